//! `mistgate sign` and `mistgate verify`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use super::read;

pub(crate) fn sign(secret: &str, file: &Path) -> Result<ExitCode> {
    let body = read(file)?;
    println!(
        "{}: {}",
        mist::SIGNATURE_V2_HEADER,
        mist::sign_v2(secret.as_bytes(), &body)
    );
    println!(
        "{}: {}",
        mist::SIGNATURE_V1_HEADER,
        mist::sign_v1(secret.as_bytes(), &body)
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn verify(secret: &str, signature: &str, v1: bool, file: &Path) -> Result<ExitCode> {
    let body = read(file)?;
    let (header, ok) = if v1 {
        (
            mist::SIGNATURE_V1_HEADER,
            mist::verify_v1(secret.as_bytes(), &body, signature.as_bytes()),
        )
    } else {
        (
            mist::SIGNATURE_V2_HEADER,
            mist::verify_v2(secret.as_bytes(), &body, signature.as_bytes()),
        )
    };
    if ok {
        println!("valid {header}");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("INVALID {header}: it does not match this body and secret");
        Ok(ExitCode::from(1))
    }
}
