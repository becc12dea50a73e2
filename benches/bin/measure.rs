//! Helpers shared by the measurement programs in `benches/bin/`: the runtime they measure on,
//! what `/proc` says about this process and the machine, and their command lines. Linux only.
#![allow(dead_code)]

/// The runtime every figure is measured on: multi-thread with 2 workers, I/O and time on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The 1, 5 and 15 minute load averages of the machine (`?` without `/proc/loadavg`).
pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// This process's resident memory now and at its peak (`VmRSS`, `VmHWM`), in KiB.
pub fn memory_kib() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let field = |key: &str| -> u64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("{key} missing in /proc/self/status"));
        line[key.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .expect("kB value")
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU time (user + system) of this process so far, in ms (`/proc/self/stat`, 10 ms clock
/// ticks assumed).
pub fn own_cpu_ms() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat");
    let after_name = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    ticks * 10
}

/// The command line after the program's name.
pub fn args() -> Vec<String> {
    std::env::args().skip(1).collect()
}

/// The value after `key` in `args` (`--rounds 5`), if `key` is there.
pub fn arg(args: &[String], key: &str) -> Option<String> {
    args.iter()
        .position(|a| a == key)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// The value at quantile `q` (0 to 1) of `v`, nearest rank; sorts `v`.
pub fn percentile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// The middle value of `v` (the upper one of an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
