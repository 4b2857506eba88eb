//! Problem: Prometheus scrapes over HTTP and orchestrators probe health
//! over HTTP, on `[router] metrics_listen`. This is that endpoint: a small
//! HTTP/1.1 server with four answers (`/metrics`, `/healthz`, `/readyz`,
//! 404 for anything else), stopped by the router's shutdown signal.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::health;
use super::Sources;

/// Content type of the classic Prometheus text format.
pub const TEXT_FORMAT: &str = prometheus::TEXT_FORMAT;

/// A slow or idle client gets this long to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Open requests get this long to finish after shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The bound metrics endpoint.
pub struct MetricsListener {
    listener: TcpListener,
    src: Arc<dyn Sources>,
}

impl MetricsListener {
    pub async fn bind(addr: &str, src: Arc<dyn Sources>) -> std::io::Result<MetricsListener> {
        let listener = TcpListener::bind(addr).await?;
        Ok(MetricsListener { listener, src })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` turns true.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        let src = self.src;
        let conn_shutdown = shutdown.clone();
        crate::accept::accept_until_shutdown(&self.listener, shutdown, "metrics", |stream, _| {
            serve_conn(stream, src.clone(), conn_shutdown.clone())
        })
        .await;
    }
}

/// Serves one HTTP connection (keep-alive) until the peer closes it or
/// the router shuts down.
async fn serve_conn(stream: TcpStream, src: Arc<dyn Sources>, mut shutdown: watch::Receiver<bool>) {
    let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
        let src = src.clone();
        async move { Ok::<_, Infallible>(respond(&*src, req.method(), req.uri().path())) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "metrics connection ended with an error");
                }
                return;
            }
            r = shutdown.changed() => {
                if r.is_err() || *shutdown.borrow() {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn.as_mut()).await;
                    return;
                }
            }
        }
    }
}

fn text(
    status: StatusCode,
    body: impl Into<Bytes>,
    content_type: &'static str,
) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(body.into()));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

const PLAIN: &str = "text/plain; charset=utf-8";

/// The answer to one request.
pub fn respond(src: &dyn Sources, method: &Method, path: &str) -> Response<Full<Bytes>> {
    let known = matches!(path, "/metrics" | "/healthz" | "/readyz");
    if !known {
        return text(StatusCode::NOT_FOUND, "not found\n", PLAIN);
    }
    if method != Method::GET && method != Method::HEAD {
        let mut res = text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n", PLAIN);
        res.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return res;
    }
    match path {
        "/metrics" => match src.metrics().render(src) {
            Ok(body) => text(StatusCode::OK, body, TEXT_FORMAT),
            Err(e) => {
                tracing::warn!(error = %e, "cannot render metrics");
                text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n"), PLAIN)
            }
        },
        "/healthz" => text(StatusCode::OK, "ok\n", PLAIN),
        _ => match health::readiness(src) {
            Ok(()) => text(StatusCode::OK, "ready\n", PLAIN),
            Err(why) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {why}\n"),
                PLAIN,
            ),
        },
    }
}
