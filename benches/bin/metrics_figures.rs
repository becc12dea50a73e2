//! What the HTTP child (`builtin::HttpEndpoints`) costs: a `/metrics` scrape and a `/readyz`
//! of a tree of N in-process task children (no OS processes), end to end through a hyper
//! client on one kept-alive connection over 127.0.0.1, and the server's own time (its
//! `Server-Timing` header: from the request's head to the answer's body). Side by side, the
//! raw lower bound: a bare hyper server on the same runtime answering a constant body, once as
//! small as `/readyz`'s and once as large as the scrape's. Then the snapshot alone, and what
//! the tree costs in CPU while nothing changes and nobody asks, with and without the child.
//!
//! `cargo run --release --features metrics --example metrics_figures -- [CHILDREN] [ROUNDS]`
//! (defaults 1000 and 2000). Linux only.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use overseer::builtin::HttpEndpoints;
use overseer::{ChildSpec, EventKind, ProcessManager};

#[path = "measure.rs"]
mod measure;

/// A kept-alive client connection.
struct Client {
    sender: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    addr: SocketAddr,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(connection);
        Client { sender, addr }
    }

    /// One GET: (end-to-end µs, server µs from `Server-Timing` if any, body length).
    async fn get(&mut self, path: &str) -> (f64, Option<f64>, usize) {
        let request = Request::get(path)
            .header(hyper::header::HOST, self.addr.to_string())
            .body(Empty::new())
            .unwrap();
        let began = Instant::now();
        self.sender.ready().await.expect("ready");
        let response = self.sender.send_request(request).await.expect("response");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        let total = began.elapsed().as_secs_f64() * 1e6;
        assert!(
            parts.status.is_success() || parts.status == 503,
            "{}",
            parts.status
        );
        let server = parts
            .headers
            .get("server-timing")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("app;dur="))
            .and_then(|ms| ms.parse::<f64>().ok())
            .map(|ms| ms * 1000.0);
        (total, server, body.len())
    }
}

/// A bare hyper server answering `body` to everything: the lower bound.
async fn raw_server(body: Bytes) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let body = body.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_: Request<Incoming>| {
                    let body = body.clone();
                    async move { Ok::<_, Infallible>(Response::new(Full::new(body))) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

struct Figures {
    total: Vec<f64>,
    server: Vec<f64>,
    len: usize,
}

async fn measure(client: &mut Client, path: &str, rounds: usize) -> Figures {
    for _ in 0..rounds / 10 {
        client.get(path).await;
    }
    let mut f = Figures {
        total: Vec::with_capacity(rounds),
        server: Vec::with_capacity(rounds),
        len: 0,
    };
    for _ in 0..rounds {
        let (total, server, len) = client.get(path).await;
        f.total.push(total);
        f.server.extend(server);
        f.len = len;
    }
    f
}

fn row(name: &str, f: &mut Figures) {
    let q = |v: &mut Vec<f64>, p: f64| {
        if v.is_empty() {
            "-".to_string()
        } else {
            format!("{:.0}", measure::percentile(v, p))
        }
    };
    println!(
        "{name:<34} {:>8} {:>8} {:>8} | {:>8} {:>8} {:>8} | {:>8}",
        q(&mut f.total, 0.5),
        q(&mut f.total, 0.9),
        q(&mut f.total, 0.99),
        q(&mut f.server, 0.5),
        q(&mut f.server, 0.9),
        q(&mut f.server, 0.99),
        f.len,
    );
}

fn build_tree(children: usize, endpoints: Option<HttpEndpoints>) -> ProcessManager {
    let mut builder = ProcessManager::builder("root");
    if let Some(endpoints) = endpoints {
        builder = builder.child(ChildSpec::new("http", endpoints));
    }
    builder
        .children((0..children).map(|n| {
            ChildSpec::task(format!("c{n}"), |ctx| async move {
                ctx.ready();
                ctx.shutdown_requested().await;
                Ok(())
            })
        }))
        .build()
        .unwrap()
}

/// CPU time of every thread of this process so far, in µs, from `/proc/self/task/*/schedstat`
/// (nanoseconds on the CPU; finer than `/proc/self/stat`'s 10 ms ticks).
fn cpu_us() -> u64 {
    let mut ns = 0u64;
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let path = task.expect("task").path().join("schedstat");
        if let Ok(text) = std::fs::read_to_string(path) {
            ns += text
                .split_whitespace()
                .next()
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    ns / 1000
}

/// The CPU time (µs) the process spends over `seconds` once `tree` is ready, nobody asking.
async fn idle_cpu_us(tree: ProcessManager, seconds: u64) -> u64 {
    let handle = tree.handle();
    let mut events = handle.events();
    let run = tokio::spawn(async move { tree.run().await });
    while let Some(e) = events.recv().await {
        if e.path == "root" && matches!(e.kind, EventKind::Ready) {
            break;
        }
    }
    drop(events);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = cpu_us();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let cpu = cpu_us() - before;
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    cpu
}

fn main() {
    let args = measure::args();
    let children: usize = args.first().map_or(1000, |a| a.parse().expect("CHILDREN"));
    let rounds: usize = args.get(1).map_or(2000, |a| a.parse().expect("ROUNDS"));
    let rt = measure::runtime();
    rt.block_on(async {
        let endpoints = HttpEndpoints::bind("127.0.0.1:0").unwrap();
        let addr = endpoints.local_addr();
        let tree = build_tree(children, Some(endpoints));
        let handle = tree.handle();
        let mut events = handle.events();
        let run = tokio::spawn(async move { tree.run().await });
        while let Some(e) = events.recv().await {
            if e.path == "root" && matches!(e.kind, EventKind::Ready) {
                break;
            }
        }
        drop(events);

        println!(
            "{children} in-process task children + the HTTP child at the root; {rounds} requests each, \
             one kept-alive connection, 2 Tokio workers; load {}",
            measure::load()
        );
        println!(
            "{:<34} {:>8} {:>8} {:>8} | {:>8} {:>8} {:>8} | {:>8}",
            "µs", "e2e p50", "p90", "p99", "srv p50", "p90", "p99", "bytes"
        );
        let mut client = Client::connect(addr).await;
        let mut metrics = measure(&mut client, "/metrics", rounds).await;
        let mut readyz = measure(&mut client, "/readyz", rounds).await;
        let big = raw_server(Bytes::from(vec![b'x'; metrics.len])).await;
        let small = raw_server(Bytes::from_static(b"ready\n")).await;
        let mut raw_big = measure(&mut Client::connect(big).await, "/", rounds).await;
        let mut raw_small = measure(&mut Client::connect(small).await, "/", rounds).await;
        row("/metrics", &mut metrics);
        row("raw hyper, body of the same size", &mut raw_big);
        row("/readyz", &mut readyz);
        row("raw hyper, 6-byte body", &mut raw_small);

        let mut snapshots = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let began = Instant::now();
            let snap = handle.snapshot().await.unwrap();
            snapshots.push(began.elapsed().as_secs_f64() * 1e6);
            std::hint::black_box(snap);
        }
        println!(
            "Handle::snapshot alone: p50 {:.0} µs, p90 {:.0} µs",
            measure::percentile(&mut snapshots, 0.5),
            measure::percentile(&mut snapshots, 0.9)
        );
        drop(client);
        handle.shutdown().unwrap();
        run.await.unwrap().unwrap();

        let seconds = 5;
        let without = idle_cpu_us(build_tree(children, None), seconds).await;
        let with = idle_cpu_us(
            build_tree(children, Some(HttpEndpoints::bind("127.0.0.1:0").unwrap())),
            seconds,
        )
        .await;
        println!(
            "CPU of the whole process over {seconds} s idle (ready, nobody asking): without the HTTP child {without} µs, with it {with} µs"
        );
    });
}
