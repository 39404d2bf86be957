//! Slow and idle clients cannot hold the service's connections: headers, bodies and
//! kept-alive connections have timeouts, and at the connection cap the connections
//! that are not in a request make room, so `/health` is still answered. Real sockets
//! against the real service; the timeouts are made small through the configuration,
//! and the tests wait for what happens, never for a time.

mod common;

use common::{ADMIN, Service};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A hang guard, not a speed assertion.
const GUARD: Duration = Duration::from_secs(60);

async fn connect(service: &Service, send: &str) -> TcpStream {
    let address = service.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(send.as_bytes()).await.unwrap();
    stream
}

/// Everything the server sends until it closes the connection (a reset counts as
/// closed too).
async fn until_closed(stream: &mut TcpStream, what: &str) -> String {
    let mut received = Vec::new();
    let read = tokio::time::timeout(GUARD, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server never closed {what}");
    String::from_utf8_lossy(&received).into_owned()
}

async fn health(service: &Service) -> u16 {
    let answer = tokio::time::timeout(GUARD, service.http.get(format!("{}/health", service.url)).send()).await;
    answer.expect("/health answered").unwrap().status().as_u16()
}

#[tokio::test]
async fn slow_and_idle_clients_are_disconnected() {
    let service = Service::start_with(|config| {
        config.server.header_read_timeout = Duration::from_millis(200);
        config.server.body_read_timeout = Duration::from_millis(200);
        config.server.idle_timeout = Duration::from_millis(300);
    })
    .await;

    let mut silent = connect(&service, "").await;
    assert_eq!(until_closed(&mut silent, "a connection that sends nothing").await, "");

    let mut half_headers = connect(&service, "GET /health HTTP/1.1\r\nHost: postbode\r\n").await;
    assert_eq!(
        until_closed(&mut half_headers, "a connection that sends half its headers").await,
        ""
    );

    // Answered, then kept alive until it has been idle too long.
    let mut kept_alive = connect(&service, "GET /health HTTP/1.1\r\nHost: postbode\r\n\r\n").await;
    let answered = until_closed(&mut kept_alive, "an idle kept-alive connection").await;
    assert!(answered.starts_with("HTTP/1.1 200 OK\r\n"), "{answered}");
    assert!(answered.ends_with(r#"{"status":"ok"}"#), "{answered}");

    // A body that stops arriving is answered 408 with a problem document.
    let request = format!(
        "POST /v1/accounts HTTP/1.1\r\nHost: postbode\r\nAuthorization: Bearer {ADMIN}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name"
    );
    let mut slow_body = connect(&service, &request).await;
    let answer = until_closed(&mut slow_body, "a connection whose body stopped").await;
    assert!(answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{answer}");
    assert!(answer.contains("/problems/request-timeout"), "{answer}");
    let (status, accounts) = service.call("GET", "/v1/accounts", ADMIN, None).await;
    assert_eq!((status, accounts["data"].as_array().unwrap().len()), (200, 0));
    assert_eq!(health(&service).await, 200);
}

#[tokio::test]
async fn at_the_connection_cap_connections_between_requests_make_room() {
    // No timeout would close anything while this test runs: only the cap can.
    let service = Service::start_with(|config| {
        config.server.header_read_timeout = Duration::from_secs(3600);
        config.server.idle_timeout = Duration::from_secs(3600);
        config.server.max_connections = 4;
    })
    .await;
    let mut held = Vec::new();
    for n in 0..24 {
        let send = match n % 3 {
            0 => "",
            1 => "GET /health HTTP/1.1\r\nHost: postbode\r\n",
            _ => "GET /health HTTP/1.1\r\nHost: postbode\r\n\r\n",
        };
        held.push(connect(&service, send).await);
    }
    assert_eq!(health(&service).await, 200);
    for (n, stream) in held.iter_mut().enumerate() {
        until_closed(stream, &format!("held connection {n}")).await;
    }
    assert_eq!(health(&service).await, 200);
}
