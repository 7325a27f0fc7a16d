//! Generates the gRPC code of `examples/proto` (for the examples and the tests) with
//! tonic's codegen and a vendored `protoc`, so no system protoc is needed. A `PROTOC` set
//! in the environment wins over the vendored binary.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "examples/proto/identity/v1/identity.proto";
    println!("cargo:rerun-if-changed={proto}");
    println!("cargo:rerun-if-env-changed=PROTOC");
    let protoc = match std::env::var_os("PROTOC") {
        Some(path) => path.into(),
        None => protoc_bin_vendored::protoc_bin_path()?,
    };
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc);
    tonic_prost_build::configure().compile_with_config(config, &[proto], &["examples/proto"])?;
    Ok(())
}
