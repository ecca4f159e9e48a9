//! A TCP gate in front of RabbitMQ: open, it forwards; shut, it drops every
//! forwarded connection and refuses new ones. The service sees RabbitMQ go
//! away and come back while the machine's shared broker keeps running.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

pub struct Gate {
    pub addr: SocketAddr,
    /// `Some(token)` while open: cancelling it cuts the connections it let
    /// through. `None` while shut.
    open: Arc<Mutex<Option<CancellationToken>>>,
    stop: CancellationToken,
}

impl Gate {
    /// An open gate to the RabbitMQ of `amqp_url`.
    pub async fn open_to(amqp_url: &str) -> Gate {
        let upstream = host_port(amqp_url).to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("gate binds");
        let gate = Gate {
            addr: listener.local_addr().expect("gate address"),
            open: Arc::new(Mutex::new(Some(CancellationToken::new()))),
            stop: CancellationToken::new(),
        };
        let (open, stop) = (gate.open.clone(), gate.stop.clone());
        tokio::spawn(async move {
            loop {
                let (mut inbound, _) = tokio::select! {
                    _ = stop.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok(accepted) => accepted,
                        Err(_) => continue,
                    },
                };
                let Some(cut) = open.lock().expect("lock").clone() else {
                    continue; // shut: the connection is dropped at once
                };
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(upstream.as_str()).await else {
                        return;
                    };
                    tokio::select! {
                        _ = cut.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    }
                });
            }
        });
        gate
    }

    /// `amqp_url` with its host and port replaced by the gate's.
    pub fn url(&self, amqp_url: &str) -> String {
        amqp_url.replacen(host_port(amqp_url), &self.addr.to_string(), 1)
    }

    /// Cuts every connection and refuses new ones.
    pub fn shut(&self) {
        if let Some(cut) = self.open.lock().expect("lock").take() {
            cut.cancel();
        }
    }

    pub fn reopen(&self) {
        let mut open = self.open.lock().expect("lock");
        if open.is_none() {
            *open = Some(CancellationToken::new());
        }
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.stop.cancel();
        self.shut();
    }
}

/// `host:port` of an `amqp://user:pass@host:port/vhost` URL.
fn host_port(amqp_url: &str) -> &str {
    let rest = amqp_url.split_once("://").map_or(amqp_url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority.rsplit('@').next().unwrap_or(authority)
}
