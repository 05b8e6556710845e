//! Generates strata's Spark Connect client code from the vendored protocol files: `protox`
//! compiles `spark/connect/*.proto` in Rust (no `protoc`), `tonic-prost-build` writes the
//! messages and the gRPC client (no server) to `src/adapter/spark/proto/spark.connect.rs`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let protos = here.join("..");
    let repo = here.join("../../..");
    let out = repo.join("src/adapter/spark/proto");
    std::fs::create_dir_all(&out)?;
    // `base.proto` holds the service and imports every other file it needs.
    let descriptors = protox::compile([protos.join("spark/connect/base.proto")], [&protos])?;
    tonic_prost_build::configure()
        .build_server(false)
        .build_client(true)
        .build_transport(false)
        .bytes(".")
        .out_dir(&out)
        .compile_fds(descriptors)?;
    println!("wrote {}", out.join("spark.connect.rs").display());
    Ok(())
}
