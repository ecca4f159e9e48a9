//! A TCP proxy in front of RabbitMQ that can cut every connection and
//! refuse new ones for a while: RabbitMQ "restarting", as the bridge sees
//! it, without restarting the machine's shared broker.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct FaultyProxy {
    pub addr: SocketAddr,
    refusing: Arc<AtomicBool>,
    current: Arc<Mutex<CancellationToken>>,
    stop: CancellationToken,
}

impl FaultyProxy {
    pub async fn start(upstream: SocketAddr) -> FaultyProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let proxy = FaultyProxy {
            addr: listener.local_addr().expect("proxy address"),
            refusing: Arc::new(AtomicBool::new(false)),
            current: Arc::new(Mutex::new(CancellationToken::new())),
            stop: CancellationToken::new(),
        };
        let p = proxy.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = p.stop.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((mut inbound, _)) = accepted else {
                    continue;
                };
                if p.refusing.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let cut = p.current.lock().expect("lock").clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = cut.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    }
                });
            }
        });
        proxy
    }

    /// Drops every open connection and refuses new ones until [`restore`].
    ///
    /// [`restore`]: FaultyProxy::restore
    pub fn cut(&self) {
        self.refusing.store(true, Ordering::SeqCst);
        let mut current = self.current.lock().expect("lock");
        current.cancel();
        *current = CancellationToken::new();
    }

    pub fn restore(&self) {
        self.refusing.store(false, Ordering::SeqCst);
    }
}

impl Drop for FaultyProxy {
    fn drop(&mut self) {
        if Arc::strong_count(&self.refusing) == 1 {
            self.stop.cancel();
        }
    }
}
