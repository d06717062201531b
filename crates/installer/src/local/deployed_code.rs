//! Which zip `invoke` runs on this machine: the deployed function's own code, never a look-alike.
//!
//! A zip already here (`--zip`, the one this installer carries, a checkout's last build) is used
//! when its digest is the function's `CodeSha256`. Otherwise the code is downloaded from
//! GetFunction's `Code.Location` (Lambda API reference, FunctionCodeLocation: "a presigned URL
//! that you can use to download the deployment package", valid for ten minutes) and checked the
//! same way. `--zip` is asked for only when neither works, saying why.

use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::rt::TokioExecutor;

use super::invoke::InvokeError;
use crate::aws::{Aws, AwsError};
use crate::build::package::code_sha256;

/// A zip on this machine that may be the deployed code.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Where it came from, as the user would name it.
    pub label: String,
    /// The zip's bytes.
    pub bytes: Vec<u8>,
}

/// The deployed code and where it was found.
#[derive(Debug)]
pub struct DeployedCode {
    /// A candidate's label, or [`DOWNLOADED`].
    pub source: String,
    /// The zip's bytes; their `CodeSha256` is the function's.
    pub bytes: Vec<u8>,
}

/// The source of code downloaded from the function itself.
pub const DOWNLOADED: &str = "the function's code location (GetFunction)";

/// A download larger than this is refused: Lambda takes at most 50 MB zipped by direct upload
/// and 250 MB unzipped from S3 (Lambda quotas, "Deployment package (.zip file archive) size").
const MAX_DOWNLOAD: usize = 250 * 1024 * 1024;

/// How long the download may take in all.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// The deployed code of `function`, whose `CodeSha256` is `deployed_sha`: the first of
/// `candidates` with that digest; else, unless the user named the one zip to use (`explicit`),
/// the code downloaded from the function's code location.
pub async fn find(
    aws: &Aws,
    function: &str,
    deployed_sha: &str,
    candidates: Vec<Candidate>,
    explicit: bool,
) -> Result<DeployedCode, InvokeError> {
    let mut tried = Vec::new();
    for candidate in candidates {
        if code_sha256(&candidate.bytes) == deployed_sha {
            return Ok(DeployedCode {
                source: candidate.label,
                bytes: candidate.bytes,
            });
        }
        tried.push(candidate.label);
    }
    if explicit {
        return Err(InvokeError::CodeMismatch {
            zip: tried.join(" nor "),
            deployed: deployed_sha.to_owned(),
        });
    }
    let unavailable = |reason: String| InvokeError::CodeUnavailable {
        tried: if tried.is_empty() {
            "no zip on this machine".to_owned()
        } else {
            tried.join(" nor ")
        },
        deployed: deployed_sha.to_owned(),
        reason,
    };
    let location = code_location(aws, function).await?.ok_or_else(|| {
        unavailable("GetFunction gave no code location (an image function?)".to_owned())
    })?;
    let bytes = download(&location).await.map_err(&unavailable)?;
    let downloaded_sha = code_sha256(&bytes);
    if downloaded_sha != deployed_sha {
        return Err(unavailable(format!(
            "the code downloaded from it has CodeSha256 {downloaded_sha} (updated meanwhile?)"
        )));
    }
    Ok(DeployedCode {
        source: DOWNLOADED.to_owned(),
        bytes,
    })
}

/// GetFunction's `Code.Location`, if it has one.
async fn code_location(aws: &Aws, function: &str) -> Result<Option<String>, AwsError> {
    let output = aws
        .lambda
        .get_function()
        .function_name(function)
        .send()
        .await
        .map_err(|e| AwsError::new("GetFunction", function, &e))?;
    Ok(output
        .code()
        .and_then(|code| code.location())
        .map(str::to_owned))
}

/// The body of a GET of `url` (http or https, the system's root certificates), or why not.
async fn download(url: &str) -> Result<Vec<u8>, String> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| format!("its code location is not a URL ({e})"))?;
    let fetched = if uri.scheme_str() == Some("https") {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| format!("no TLS root certificates on this machine ({e})"))?
            .https_only()
            .enable_http1()
            .build();
        tokio::time::timeout(DOWNLOAD_TIMEOUT, get(https, uri)).await
    } else {
        tokio::time::timeout(DOWNLOAD_TIMEOUT, get(HttpConnector::new(), uri)).await
    };
    fetched.map_err(|_| {
        format!(
            "downloading it took longer than {} s",
            DOWNLOAD_TIMEOUT.as_secs()
        )
    })?
}

/// One GET through `connector`, its body limited to [`MAX_DOWNLOAD`].
async fn get<C>(connector: C, uri: hyper::Uri) -> Result<Vec<u8>, String>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    let client: Client<C, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let host = uri.host().unwrap_or_default().to_owned();
    let response = client
        .get(uri)
        .await
        .map_err(|e| format!("could not download it from {host} ({e})"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("downloading it from {host} answered HTTP {status}"));
    }
    let body = Limited::new(response.into_body(), MAX_DOWNLOAD)
        .collect()
        .await
        .map_err(|e| format!("downloading it from {host} failed ({e})"))?;
    Ok(body.to_bytes().to_vec())
}
