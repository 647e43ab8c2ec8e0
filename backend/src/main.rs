fn main() {
    if std::env::args().nth(1).as_deref() == Some("init") {
        berth::runtime::init_main()
    }
}
