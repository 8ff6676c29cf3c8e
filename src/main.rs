//! The `warden` command: the headless monitor and the manual actions. See `warden --help`.

fn main() -> std::process::ExitCode {
    warden::cli::main()
}
