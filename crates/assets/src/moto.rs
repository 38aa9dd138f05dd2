//! Test support (feature `test-support`): a real S3-compatible server on loopback — moto's
//! server mode (`python3 -m moto.server`, pinned in tests/python/requirements.txt) on a
//! free port, stopped by its pid when dropped — and the plain S3 calls tests need beside
//! the blob store (create a bucket, overwrite an object to corrupt it).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::s3_blobs::AwsVars;

/// How long moto may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running moto server (killed when dropped).
pub struct MotoServer {
    child: Child,
    port: u16,
}

impl MotoServer {
    /// Starts moto on a free loopback port and waits until it answers. Panics with what
    /// to install when it cannot start.
    pub fn start() -> MotoServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("pick a free port")
            .port();
        let log = tempfile::NamedTempFile::new().expect("create moto's log file");
        let child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log.reopen().expect("open moto's log file"))
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run python3 for the moto S3 server ({e}); install python3 and `python3 -m pip install -r tests/python/requirements.txt`")
            });
        let mut server = MotoServer { child, port };
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "the moto S3 server exited at start ({status}); install it with `python3 -m pip install -r tests/python/requirements.txt` (moto[server]); its output:\n{}",
                    std::fs::read_to_string(log.path()).unwrap_or_default()
                );
            }
            if server
                .request("GET", "/", b"")
                .is_ok_and(|(status, _)| status == 200)
            {
                return server;
            }
            if started.elapsed() > START_TIMEOUT {
                panic!(
                    "the moto S3 server did not answer on 127.0.0.1:{port} within {START_TIMEOUT:?}; its output:\n{}",
                    std::fs::read_to_string(log.path()).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The `AWS_*` variables that point a client at this server (moto takes any
    /// credentials).
    pub fn aws_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ACCESS_KEY_ID", "moto-test-key".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "moto-test-secret".to_owned()),
        ]
    }

    /// [`MotoServer::aws_vars`] as [`crate::S3BlobStore::connect`] takes them.
    pub fn client_vars(&self) -> AwsVars {
        self.aws_vars()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Zeroizing::new(v)))
            .collect()
    }

    /// Creates `bucket`.
    pub fn create_bucket(&self, bucket: &str) {
        let (status, body) = self
            .request("PUT", &format!("/{bucket}"), b"")
            .expect("create a bucket on moto");
        assert_eq!(
            status, 200,
            "moto refused to create bucket {bucket}: {body}"
        );
    }

    /// Overwrites object `key` of `bucket` with `bytes` through the S3 API (a signed
    /// PutObject, as any S3 client would send).
    pub async fn put_object(&self, bucket: &str, key: &str, bytes: &[u8]) {
        use object_store::ObjectStore;
        let mut builder = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_allow_http(true);
        for (name, value) in self.aws_vars() {
            builder = builder.with_config(name.to_ascii_lowercase().parse().unwrap(), value);
        }
        let client = builder.build().expect("an S3 client for moto");
        client
            .put(
                &object_store::path::Path::from(key),
                bytes::Bytes::copy_from_slice(bytes).into(),
            )
            .await
            .unwrap_or_else(|e| panic!("moto refused to store {bucket}/{key}: {e}"));
    }

    /// One plain (unsigned) HTTP/1.1 request; the status and body of the answer.
    fn request(&self, method: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, String)> {
        let mut conn = TcpStream::connect(("127.0.0.1", self.port))?;
        conn.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            conn,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.port,
            body.len()
        )?;
        conn.write_all(body)?;
        let mut answer = Vec::new();
        conn.read_to_end(&mut answer)?;
        let answer = String::from_utf8_lossy(&answer);
        let status = answer
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        Ok((status, body.to_owned()))
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
