//! Just enough DNS to read TXT records (RFC 1035 over UDP), so `postbode keys check`
//! needs no resolver library: one question, the answer's TXT strings.

use anyhow::{Context, bail};
use std::net::SocketAddr;
use std::time::Duration;

const TXT: u16 = 16;
const CLASS_IN: u16 = 1;

const DNS_PORT: u16 = 53;
const TRIES: u32 = 3;
const WAIT_PER_TRY: Duration = Duration::from_secs(2);

/// The first `nameserver` of /etc/resolv.conf, port 53.
pub fn system_resolver() -> anyhow::Result<SocketAddr> {
    let conf = std::fs::read_to_string("/etc/resolv.conf")
        .context("reading /etc/resolv.conf to find a DNS server; name one with --resolver")?;
    let server = conf
        .lines()
        .filter_map(|line| line.trim().strip_prefix("nameserver"))
        .map(str::trim)
        .next()
        .context("/etc/resolv.conf names no nameserver; name one with --resolver")?;
    let ip: std::net::IpAddr = server.parse().with_context(|| format!("nameserver {server}"))?;
    Ok(SocketAddr::new(ip, DNS_PORT))
}

/// `--resolver`: an IP address (port 53) or an address with its port.
pub fn parse_resolver(text: &str) -> Result<SocketAddr, String> {
    text.parse::<SocketAddr>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(|ip| SocketAddr::new(ip, DNS_PORT)))
        .map_err(|_| {
            format!("{text:?} is not an IP address, nor one with a port (1.1.1.1, 1.1.1.1:53, [2606:4700::1111]:53)")
        })
}

/// Every TXT record at `name`, each as its strings joined; empty when there is none.
pub async fn txt_records(resolver: SocketAddr, name: &str) -> anyhow::Result<Vec<String>> {
    let id: u16 = u16::from_be_bytes(postbode_signature::random::bytes::<2>()?);
    let query = build_query(id, name)?;
    let bind = if resolver.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let socket = tokio::net::UdpSocket::bind(bind).await?;
    socket.connect(resolver).await?;
    let no_answer = |why: String| {
        anyhow::anyhow!(
            "no DNS server answers at {resolver} ({why}); name one that does with --resolver, e.g. --resolver 1.1.1.1"
        )
    };
    let mut buf = vec![0u8; 4096];
    for _ in 0..TRIES {
        socket.send(&query).await.map_err(|e| no_answer(e.to_string()))?;
        if let Ok(received) = tokio::time::timeout(WAIT_PER_TRY, socket.recv(&mut buf)).await {
            // A refused port shows up here, as the ICMP answer to the question sent.
            let len = received.map_err(|e| no_answer(e.to_string()))?;
            return parse_answer(&buf[..len], id);
        }
    }
    Err(no_answer(format!(
        "{TRIES} questions, {} s each, unanswered",
        WAIT_PER_TRY.as_secs()
    )))
}

fn build_query(id: u16, name: &str) -> anyhow::Result<Vec<u8>> {
    let mut q = Vec::with_capacity(name.len() + 18);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00]); // recursion desired
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // one question
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            bail!("{name} is not a valid DNS name");
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&TXT.to_be_bytes());
    q.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(q)
}

fn parse_answer(msg: &[u8], id: u16) -> anyhow::Result<Vec<String>> {
    let short = || anyhow::anyhow!("truncated DNS answer");
    let u16_at = |at: usize| -> anyhow::Result<u16> {
        Ok(u16::from_be_bytes([
            *msg.get(at).ok_or_else(short)?,
            *msg.get(at + 1).ok_or_else(short)?,
        ]))
    };
    if u16_at(0)? != id {
        bail!("the DNS answer is for another question");
    }
    let rcode = u16_at(2)? & 0x000f;
    if rcode == 3 {
        return Ok(Vec::new()); // NXDOMAIN: nothing published
    }
    if rcode != 0 {
        bail!("the DNS server answered with error code {rcode}");
    }
    let (questions, answers) = (u16_at(4)?, u16_at(6)?);
    let mut at = 12;
    for _ in 0..questions {
        at = skip_name(msg, at)? + 4;
    }
    let mut records = Vec::new();
    for _ in 0..answers {
        at = skip_name(msg, at)?;
        let (kind, len) = (u16_at(at)?, usize::from(u16_at(at + 8)?));
        let data = msg.get(at + 10..at + 10 + len).ok_or_else(short)?;
        at += 10 + len;
        if kind != TXT {
            continue; // a CNAME on the way
        }
        let mut text = Vec::new();
        let mut i = 0;
        while i < data.len() {
            let n = usize::from(data[i]);
            text.extend_from_slice(data.get(i + 1..i + 1 + n).ok_or_else(short)?);
            i += 1 + n;
        }
        records.push(String::from_utf8_lossy(&text).into_owned());
    }
    Ok(records)
}

/// The offset after a (possibly compressed) name.
fn skip_name(msg: &[u8], mut at: usize) -> anyhow::Result<usize> {
    loop {
        let len = *msg.get(at).context("truncated DNS name")?;
        match len {
            0 => return Ok(at + 1),
            l if l & 0xc0 == 0xc0 => return Ok(at + 2),
            l => at += 1 + usize::from(l),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resolver_is_an_address_with_port_53_unless_given() {
        assert_eq!(parse_resolver("1.1.1.1"), Ok("1.1.1.1:53".parse().unwrap()));
        assert_eq!(parse_resolver("127.0.0.1:5353"), Ok("127.0.0.1:5353".parse().unwrap()));
        assert_eq!(parse_resolver("::1"), Ok("[::1]:53".parse().unwrap()));
        assert!(parse_resolver("dns.example").is_err());
    }

    #[test]
    fn a_query_names_the_question() {
        let q = build_query(7, "pb1._domainkey.example.com").unwrap();
        assert_eq!(&q[..2], &[0, 7]);
        assert_eq!(&q[12..16], b"\x03pb1");
        assert_eq!(&q[q.len() - 4..], &[0, 16, 0, 1]);
        assert!(build_query(1, "a..b").is_err());
    }

    #[test]
    fn an_answer_with_a_compressed_name_and_split_strings_is_read() {
        let mut msg = vec![0, 7, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        msg.extend_from_slice(b"\x01a\x07example\x03com\x00\x00\x10\x00\x01");
        msg.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 8]);
        msg.extend_from_slice(b"\x03v=D\x03KIM");
        assert_eq!(parse_answer(&msg, 7).unwrap(), ["v=DKIM"]);
        assert!(parse_answer(&msg, 8).is_err());
        let mut nx = msg[..12].to_vec();
        nx[3] = 0x83;
        assert_eq!(parse_answer(&nx, 7).unwrap(), Vec::<String>::new());
    }
}
