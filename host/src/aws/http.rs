//! Plain HTTP(S) requests outside the AWS APIs (container registries, Terraform state URLs), sent
//! through the AWS SDK's own rustls connector, so no second TLS stack, each bounded by a timeout
//! and a body size.

use std::time::Duration;

use aws_smithy_http_client::Connector;
use aws_smithy_runtime_api::client::http::HttpConnector;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;

pub struct HttpClient {
    connector: Connector,
    timeout: Duration,
    max_body: usize,
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

impl HttpClient {
    /// `timeout` bounds each request (connect included); a body over `max_body` bytes is an error.
    pub fn new(timeout: Duration, max_body: usize) -> Self {
        let connector = Connector::builder()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring))
            .build();
        HttpClient { connector, timeout, max_body }
    }

    pub async fn send(&self, method: &str, url: &str, headers: &[(&str, String)]) -> Result<Response, String> {
        self.send_body(method, url, headers, Vec::new()).await
    }

    /// A request with a body (uploads to a registry: `cortado plugin push`).
    pub async fn send_body(&self, method: &str, url: &str, headers: &[(&str, String)], body: Vec<u8>) -> Result<Response, String> {
        let mut req = HttpRequest::new(if body.is_empty() { SdkBody::empty() } else { SdkBody::from(body) });
        req.set_uri(url).map_err(|e| format!("bad URL {url}: {e}"))?;
        req.set_method(method).map_err(|e| e.to_string())?;
        req.headers_mut().try_insert("user-agent", format!("cortado/{}", env!("CARGO_PKG_VERSION"))).map_err(|e| e.to_string())?;
        for (k, v) in headers {
            req.headers_mut().try_insert(k.to_string(), v.clone()).map_err(|e| format!("header {k}: {e}"))?;
        }
        let call = async {
            let resp = self.connector.call(req).await.map_err(|e| super::describe_error(&e))?;
            let status = resp.status().as_u16();
            let headers: Vec<(String, String)> = resp.headers().iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            // Refused from the declared length before any of the body is read, and bounded while
            // reading (an answer without a length, or lying about it), so memory stays within the cap.
            let declared = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-length")).and_then(|(_, v)| v.trim().parse::<u64>().ok());
            if let Some(len) = declared.filter(|l| *l > self.max_body as u64) {
                return Err(format!("response of {len} bytes (content-length) is above the limit of {} bytes; not read", self.max_body));
            }
            let mut body = ByteStream::new(resp.into_body());
            let mut bytes = Vec::new();
            while let Some(chunk) = body.try_next().await.map_err(|e| e.to_string())? {
                if bytes.len() + chunk.len() > self.max_body {
                    return Err(format!("response of more than {} bytes is above the limit; reading stopped", self.max_body));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(Response { status, headers, body: bytes })
        };
        match tokio::time::timeout(self.timeout, call).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {:?}", self.timeout)),
        }
    }
}
