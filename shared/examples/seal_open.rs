//! The core in one page: generate a cluster key pair, seal a value for `production/db-creds`,
//! open it there, and see it refuse to open anywhere else or with another key.
//!
//! ```text
//! cargo run -p sealant-core --example seal_open
//! ```
//!
//! The value itself is never printed, only its length: the point is what a sealed value reveals
//! (see the header lines) and what it does not.

use std::error::Error;
use std::process::ExitCode;

use sealant_core::format::{self, Binding, Envelope, KeyRing, Location, Scope};
use sealant_core::keys::PrivateKey;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    // 1. The cluster's key pair. The controller keeps the private key; everybody may have the
    //    public key line.
    let cluster_key = PrivateKey::generate()?;
    println!("cluster key id  {}", cluster_key.id());
    println!("public key      {}", cluster_key.public());

    // 2. Seal one value of the Secret production/db-creds, bound strictly to where it will live.
    let value = b"correct horse battery staple";
    let here = Location::new("production", "db-creds", "password");
    let binding = Binding::new(Scope::Strict, &here)?;
    let sealed = format::seal(value, &binding, &[cluster_key.public().clone()])?;
    println!("\nsealed value    {sealed}");

    // 3. What anyone can read from it without a key: the clear, authenticated header.
    let envelope = Envelope::from_base64(&sealed)?;
    println!(
        "header          scope {}, sealed for {}/{} key '{}', recipients {:?}, value of {} bytes",
        envelope.binding.scope(),
        envelope.binding.namespace(),
        envelope.binding.name(),
        envelope.binding.key(),
        envelope
            .key_ids()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        envelope.payload.len() - 16,
    );

    // 4. The controller opens it where the SealedSecret sits.
    let ring: KeyRing = [cluster_key].into_iter().collect();
    let opened = format::open(&sealed, &here, &ring)?;
    if opened.as_slice() != value {
        return Err("the opened value differs from the sealed one".into());
    }
    println!(
        "\nopened as production/db-creds: {} bytes, identical to the sealed value",
        opened.len()
    );

    // 5. Copied to another namespace, it refuses to open, and says why.
    let elsewhere = Location::new("staging", "db-creds", "password");
    match format::open(&sealed, &elsewhere, &ring) {
        Ok(_) => return Err("a strict value opened in another namespace".into()),
        Err(err) => println!("opened as staging/db-creds:    {err}"),
    }

    // 6. A cluster without the key cannot open it either, and the error names both keys.
    let other_cluster: KeyRing = [PrivateKey::generate()?].into_iter().collect();
    match format::open(&sealed, &here, &other_cluster) {
        Ok(_) => return Err("a value opened with a key it was not sealed to".into()),
        Err(err) => println!("opened by another cluster:     {err}"),
    }
    Ok(())
}
