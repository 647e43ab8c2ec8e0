//! `berth-monitor`: what keeps a container running and heard while no daemon does. Started by `berth serve` only;
//! everything it does is berth-runtime's `monitor`.

fn main() {
    berth_runtime::monitor_main()
}
