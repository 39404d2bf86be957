//! An authoritative DNS server on 127.0.0.1 for the tests: it answers TXT questions
//! from a table the test fills (name → texts), NXDOMAIN for every other name. Messages
//! are read and written with hickory-proto, the resolver's own wire format.

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{RData, Record, RecordType};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct DnsServer {
    pub addr: SocketAddr,
    records: Arc<Mutex<HashMap<String, Vec<String>>>>,
}

impl DnsServer {
    pub async fn start() -> Self {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let records: Arc<Mutex<HashMap<String, Vec<String>>>> = Arc::default();
        let table = records.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            loop {
                let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                let Ok(query) = Message::from_vec(&buf[..len]) else {
                    continue;
                };
                let answer = answer(&query, &table.lock().unwrap());
                let _ = socket.send_to(&answer.to_vec().unwrap(), peer).await;
            }
        });
        Self { addr, records }
    }

    /// Publishes a TXT record (another at the same name adds to it).
    pub fn publish(&self, name: &str, text: &str) {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.records
            .lock()
            .unwrap()
            .entry(name)
            .or_default()
            .push(text.to_owned());
    }
}

fn answer(query: &Message, table: &HashMap<String, Vec<String>>) -> Message {
    let mut answer = Message::response(query.metadata.id, OpCode::Query);
    answer.metadata.message_type = MessageType::Response;
    answer.metadata.authoritative = true;
    answer.metadata.recursion_desired = query.metadata.recursion_desired;
    let mut found = false;
    for question in &query.queries {
        answer.add_query(question.clone());
        let name = question.name().to_ascii().trim_end_matches('.').to_ascii_lowercase();
        if let Some(texts) = table.get(&name) {
            found = true;
            if question.query_type() == RecordType::TXT {
                for text in texts {
                    // A string is at most 255 bytes: a long text goes in several.
                    let parts = text
                        .as_bytes()
                        .chunks(255)
                        .map(|c| String::from_utf8_lossy(c).into_owned());
                    let rdata = RData::TXT(TXT::new(parts.collect()));
                    answer.add_answer(Record::from_rdata(question.name().clone(), 60, rdata));
                }
            }
        }
    }
    if !found {
        answer.metadata.response_code = ResponseCode::NXDomain;
    }
    answer
}
