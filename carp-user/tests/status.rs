//! The status socket, `xcarp status` and the metrics endpoint, end to end
//! through the public API (docs/status.md). No root needed: sockets live
//! in a private temporary directory and the metrics endpoint on
//! 127.0.0.1 with a port the kernel picks.

use std::{
    io::{Read as _, Write as _},
    net::{Ipv4Addr, SocketAddr, TcpStream},
    os::unix::fs::{FileTypeExt as _, PermissionsExt as _},
    path::{Path, PathBuf},
    process::ExitCode,
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use tokio::{sync::watch, task::JoinHandle};
use xcarp::status::{
    Format, InstanceCounters, InstanceStatus, InterfaceStatus, MetricsServer, QueryError, RxPath,
    ServeError, Snapshot, SocketAccess, StateName, StatusServer, query_status, status_command,
};

/// A directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "xcarp-status-test-{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn snapshot(adverts_sent: u64) -> Snapshot {
    let mut snapshot = Snapshot::for_this_process(1_700_000_000_000);
    snapshot.instances.push(InstanceStatus {
        name: "web".to_owned(),
        interface: "eth0".to_owned(),
        vhid: 42,
        addresses: vec![Ipv4Addr::new(10, 1, 1, 252)],
        state: StateName::Master,
        master: Some(Ipv4Addr::new(10, 1, 1, 1)),
        advbase: 1,
        advert_interval_ms: 1000,
        master_down_ms: 3000,
        state_since_unix_ms: 1_700_000_000_000,
        counters: InstanceCounters {
            adverts_sent,
            ..InstanceCounters::default()
        },
        rx_path: RxPath::Xdp,
        ..InstanceStatus::default()
    });
    snapshot.interfaces.push(InterfaceStatus {
        name: "eth0".to_owned(),
        ifindex: 2,
        running: true,
        xdp_mode: Some("skb".to_owned()),
        xdp_counters: None,
    });
    snapshot
}

/// `query_status` off the runtime's thread (it blocks).
async fn query(path: &Path, format: Format) -> Result<String, QueryError> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || query_status(&path, format, Duration::from_secs(2)))
        .await
        .unwrap()
}

/// Sends `request` raw and returns the whole answer.
async fn raw(path: &Path, request: &[u8]) -> String {
    let (path, request) = (path.to_owned(), request.to_owned());
    tokio::task::spawn_blocking(move || {
        let mut stream = std::os::unix::net::UnixStream::connect(&path).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(&request).unwrap();
        // End of request: the server must not wait for more.
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    })
    .await
    .unwrap()
}

async fn start_status(
    path: &Path,
    snapshot: Snapshot,
) -> (watch::Sender<Snapshot>, JoinHandle<Result<(), ServeError>>) {
    let server = StatusServer::bind(path, SocketAccess::default())
        .await
        .unwrap();
    let (tx, rx) = watch::channel(snapshot);
    (tx, tokio::spawn(server.serve(rx)))
}

#[tokio::test]
async fn the_status_socket_serves_every_format_and_follows_updates() {
    let dir = TempDir::new("formats");
    // The parent directories do not exist yet: bind creates them.
    let path = dir.0.join("run/xcarp/status.sock");
    let (tx, server) = start_status(&path, snapshot(10)).await;

    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600, "root only");
    let parent = std::fs::metadata(path.parent().unwrap()).unwrap();
    assert_eq!(parent.permissions().mode() & 0o777, 0o755);
    // Nothing left beside the socket (the staging directory is gone).
    let entries: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["status.sock"]);

    let text = query(&path, Format::Text).await.unwrap();
    let row = text
        .lines()
        .find(|l| l.starts_with("web "))
        .unwrap_or_else(|| panic!("no row for web in:\n{text}"));
    assert!(
        row.contains("MASTER") && row.contains("10.1.1.1 (us)"),
        "{row}"
    );

    let json = query(&path, Format::Json).await.unwrap();
    let parsed: Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed, snapshot(10));

    let prometheus = query(&path, Format::Prometheus).await.unwrap();
    assert!(
        prometheus.contains(
            "xcarp_adverts_sent_total{name=\"web\",interface=\"eth0\",vlan=\"0\",vhid=\"42\"} 10\n"
        ),
        "{prometheus}"
    );

    // A new snapshot is what the next client sees.
    tx.send(snapshot(11)).unwrap();
    let json = query(&path, Format::Json).await.unwrap();
    let parsed: Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed.instances[0].counters.adverts_sent, 11);

    // The daemon going away ends the server and removes the socket.
    drop(tx);
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server stops when the sender is dropped")
        .unwrap()
        .unwrap();
    assert!(!path.exists(), "socket file left behind");
}

#[tokio::test]
async fn the_status_socket_answers_bad_requests_with_an_error_line() {
    let dir = TempDir::new("bad");
    let path = dir.0.join("status.sock");
    let (_tx, _server) = start_status(&path, snapshot(1)).await;

    let answer = raw(&path, b"xml\n").await;
    assert!(answer.starts_with("error: unknown request"), "{answer}");
    let answer = raw(&path, &[b'x'; 100]).await;
    assert!(
        answer.starts_with("error: request longer than 64"),
        "{answer}"
    );
    // No request at all (the client only closes its side): the table.
    let answer = raw(&path, b"").await;
    assert!(answer.starts_with("xcarp "), "{answer}");
    // CRLF is fine too.
    let answer = raw(&path, b"json\r\n").await;
    assert!(answer.starts_with('{'), "{answer}");
}

#[tokio::test]
async fn a_silent_client_does_not_hold_up_the_others() {
    let dir = TempDir::new("slow");
    let path = dir.0.join("status.sock");
    let (_tx, _server) = start_status(&path, snapshot(1)).await;

    // Connected, sending nothing, never closing.
    let silent = std::os::unix::net::UnixStream::connect(&path).unwrap();
    let started = Instant::now();
    query(&path, Format::Text).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "answered only after {:?}",
        started.elapsed()
    );
    // The silent one is told off and closed after the request timeout.
    let answer = tokio::task::spawn_blocking(move || {
        let mut silent = silent;
        silent
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut answer = String::new();
        silent.read_to_string(&mut answer).unwrap();
        answer
    })
    .await
    .unwrap();
    assert!(answer.starts_with("error: no request within"), "{answer}");
}

#[tokio::test]
async fn a_stale_socket_is_replaced_and_a_live_one_refused() {
    let dir = TempDir::new("stale");
    let path = dir.0.join("status.sock");

    // A socket file nobody listens on, as a killed daemon leaves it.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let (_tx, _server) = start_status(&path, snapshot(1)).await;
    query(&path, Format::Text).await.unwrap();

    // Now it is alive: a second daemon must not take it over.
    let err = StatusServer::bind(&path, SocketAccess::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ServeError::InUse { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    query(&path, Format::Text).await.unwrap();
}

#[tokio::test]
async fn a_file_that_is_not_a_socket_is_left_alone() {
    let dir = TempDir::new("file");
    let path = dir.0.join("status.sock");
    std::fs::write(&path, "precious").unwrap();
    let err = StatusServer::bind(&path, SocketAccess::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ServeError::NotASocket { .. }), "{err:?}");
    assert!(err.to_string().contains("status.sock"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");

    // A parent that cannot be a directory: an error naming it, no panic.
    let path = dir.0.join("status.sock/inner.sock");
    let err = StatusServer::bind(&path, SocketAccess::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ServeError::CreateDir { .. }), "{err:?}");
    assert!(err.to_string().contains("status.sock"), "{err}");
}

#[tokio::test]
async fn the_socket_takes_the_configured_mode_and_group() {
    let dir = TempDir::new("access");
    let path = dir.0.join("status.sock");
    let gid = nix::unistd::getgid().as_raw();
    let server = StatusServer::bind(
        &path,
        SocketAccess {
            mode: 0o660,
            group: Some(gid),
        },
    )
    .await
    .unwrap();
    let meta = std::fs::symlink_metadata(server.path()).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o660);
    assert_eq!(std::os::unix::fs::MetadataExt::gid(&meta), gid);
    drop(server);
    assert!(!path.exists(), "dropping the server removes its socket");
}

#[tokio::test]
async fn the_command_prints_the_answer_or_explains_and_exits_2() {
    let dir = TempDir::new("command");
    let path = dir.0.join("status.sock");
    let (_tx, _server) = start_status(&path, snapshot(1)).await;
    let socket = path.clone().into_os_string();
    let code = tokio::task::spawn_blocking(move || status_command(&["--socket".into(), socket]))
        .await
        .unwrap();
    assert_eq!(code, ExitCode::SUCCESS);

    let missing = dir.0.join("nothing.sock").into_os_string();
    let code = tokio::task::spawn_blocking(move || status_command(&["--socket".into(), missing]))
        .await
        .unwrap();
    assert_eq!(code, ExitCode::from(2));
}

#[test]
fn a_daemon_that_stopped_accepting_makes_the_command_time_out() {
    use socket2::{Domain, SockAddr, Socket, Type};
    let dir = TempDir::new("backlog");
    let path = dir.0.join("status.sock");
    let addr = SockAddr::unix(&path).unwrap();
    // A listener that never accepts, its backlog full: a plain connect
    // would wait for ever.
    let listener = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
    listener.bind(&addr).unwrap();
    listener.listen(0).unwrap();
    let mut fillers = Vec::new();
    loop {
        let filler = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
        filler.set_nonblocking(true).unwrap();
        match filler.connect(&addr) {
            Ok(()) => fillers.push(filler),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("filling the backlog: {e}"),
        }
        assert!(fillers.len() < 1000, "the backlog never fills");
    }

    let (tx, rx) = std::sync::mpsc::channel();
    let started = Instant::now();
    std::thread::spawn(move || {
        let _ = tx.send(query_status(
            &path,
            Format::Text,
            Duration::from_millis(300),
        ));
    });
    let result = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("connecting to a full backlog was not bounded");
    let err = result.unwrap_err();
    assert!(matches!(err, QueryError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(listener);
}

// --- metrics endpoint -------------------------------------------------------

/// Sends `request` to `addr` and returns the whole response.
async fn http(addr: SocketAddr, request: Vec<u8>) -> String {
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        // The server may answer (431) and close before it has read it all.
        let _ = stream.write_all(&request);
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        String::from_utf8_lossy(&response).into_owned()
    })
    .await
    .unwrap()
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\n\r\n").into_bytes()
}

async fn start_metrics() -> (SocketAddr, watch::Sender<Snapshot>) {
    let server = MetricsServer::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);
    let (tx, rx) = watch::channel(snapshot(5));
    tokio::spawn(server.serve(rx));
    (addr, tx)
}

#[tokio::test]
async fn metrics_are_served_at_slash_metrics_only() {
    let (addr, tx) = start_metrics().await;

    let response = http(addr, get("/metrics")).await;
    let (head, body) = response.split_once("\r\n\r\n").expect("no head");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert!(head.contains("connection: close"), "{head}");
    assert!(body.contains("# TYPE xcarp_adverts_sent_total counter\n"));
    assert!(
        body.contains(
            "xcarp_adverts_sent_total{name=\"web\",interface=\"eth0\",vlan=\"0\",vhid=\"42\"} 5\n"
        ),
        "{body}"
    );

    tx.send(snapshot(6)).unwrap();
    let response = http(addr, get("/metrics")).await;
    assert!(response.contains("vhid=\"42\"} 6\n"), "{response}");

    // HEAD: the same head, no body.
    let response = http(addr, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()).await;
    let (head, body) = response.split_once("\r\n\r\n").expect("no head");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(body.is_empty(), "{body}");

    let response = http(addr, get("/other")).await;
    assert!(response.starts_with("HTTP/1.1 404 "), "{response}");
    let response = http(addr, get("/")).await;
    assert!(response.starts_with("HTTP/1.1 404 "), "{response}");
    let response = http(
        addr,
        b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".to_vec(),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 405 "), "{response}");
    // Garbage is answered (400) or dropped, never a panic; the server
    // still answers afterwards.
    let response = http(addr, b"\x00\x01 nonsense\r\n\r\n".to_vec()).await;
    assert!(!response.contains("200 OK"), "{response}");
    let response = http(addr, get("/metrics")).await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
}

#[tokio::test]
async fn an_oversized_request_head_is_rejected() {
    let (addr, _tx) = start_metrics().await;
    let mut request = b"GET /metrics HTTP/1.1\r\nHost: x\r\n".to_vec();
    // 16 KiB of headers, twice the limit.
    for n in 0..256 {
        request.extend_from_slice(format!("X-Filler-{n:03}: {}\r\n", "y".repeat(48)).as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    assert!(request.len() > 2 * 8 * 1024);
    let response = http(addr, request).await;
    assert!(response.starts_with("HTTP/1.1 431 "), "{response}");
    assert!(!response.contains("xcarp_"), "served despite the limit");
    // A head just under the limit is fine.
    let mut request = b"GET /metrics HTTP/1.1\r\nHost: x\r\n".to_vec();
    request.extend_from_slice(format!("X-Filler: {}\r\n\r\n", "y".repeat(7000)).as_bytes());
    let response = http(addr, request).await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
}

#[tokio::test]
async fn binding_a_used_address_names_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let err = MetricsServer::bind(addr).await.unwrap_err();
    assert!(matches!(err, ServeError::BindTcp { .. }), "{err:?}");
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    // A listener bound by the caller works as well.
    let server = MetricsServer::from_std(taken).unwrap();
    assert_eq!(server.local_addr(), addr);
}
