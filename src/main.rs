//! procjail's entry point: everything is in the library; errors are printed once, in cli::main.

fn main() {
    std::process::exit(procjail::cli::main());
}
