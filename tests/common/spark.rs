//! A throwaway Apache Spark cluster for the tests, started once per test binary from the
//! `pyspark` package (`pip install "pyspark[connect]"`, 4.x: it ships `bin/spark-class`,
//! `bin/spark-submit` and the Spark Connect jar) with Java 17: a standalone master, two
//! workers (one core each) and a Spark Connect server, all on 127.0.0.1 and free ports, in a
//! temp dir. The tests wait until the Connect port answers (bounded), and every JVM is
//! stopped by the pid this process started, when the test binary exits (a watchdog process
//! does it, so a crashed test leaves nothing behind). `STRATA_TEST_SPARK_REMOTE=sc://...`
//! uses a running server instead. Missing Java or pyspark is a failure that names the
//! command installing it, never a skipped test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long the cluster may take to answer (about 30 s on this machine's 2 cores).
const START_TIMEOUT: Duration = Duration::from_secs(180);

/// A running cluster.
pub struct SparkCluster {
    /// `sc://127.0.0.1:PORT/`.
    pub url: String,
    /// The Connect server's port.
    pub port: u16,
    /// Where logs, the warehouse and the workers' files live.
    pub dir: Option<PathBuf>,
    /// `spark://127.0.0.1:PORT`.
    master_url: String,
    /// The Connect server's JVM (stopped and started again by fault tests).
    connect: Mutex<Option<Child>>,
    /// The master's and workers' JVMs.
    daemons: Mutex<Vec<Child>>,
    home: PathBuf,
}

/// The pyspark package's folder (its Spark home), or a failure that says how to install it.
pub fn spark_home() -> PathBuf {
    if let Ok(home) = std::env::var("STRATA_SPARK_HOME") {
        return PathBuf::from(home);
    }
    let java = Command::new("java").arg("-version").output();
    assert!(
        java.is_ok_and(|o| o.status.success()),
        "Spark needs Java 17 and `java` is not on PATH: apt-get install openjdk-17-jre-headless"
    );
    let out = Command::new("python3")
        .args([
            "-c",
            "import os, pyspark; print(pyspark.__version__); print(os.path.dirname(pyspark.__file__))",
        ])
        .output();
    let out = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        _ => panic!(
            "the Spark tests start a local cluster from pyspark, which is not installed: pip install \"pyspark[connect]\" (4.x)"
        ),
    };
    let mut lines = out.lines();
    let version = lines.next().unwrap_or("").to_string();
    assert!(
        version
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok())
            >= Some(4),
        "pyspark {version} is installed; the Spark tests need 4.x: pip install -U \"pyspark[connect]\""
    );
    let home = PathBuf::from(lines.next().unwrap_or("").trim());
    assert!(
        home.join("bin/spark-class").exists(),
        "{} has no bin/spark-class: reinstall with pip install --force-reinstall \"pyspark[connect]\"",
        home.display()
    );
    home
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// True when something accepts connections on 127.0.0.1:`port`.
pub fn port_answers(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(300))
        .is_ok()
}

impl SparkCluster {
    fn spawn(&self, program: &str, args: &[&str], log: &str) -> Child {
        let dir = self.dir.as_ref().expect("a throwaway cluster");
        let log = std::fs::File::create(dir.join("logs").join(log)).unwrap();
        Command::new(self.home.join("bin").join(program))
            .args(args)
            .current_dir(dir)
            .env("SPARK_HOME", &self.home)
            .env("SPARK_LOCAL_IP", "127.0.0.1")
            .env("SPARK_LOG_DIR", dir.join("logs"))
            .env_remove("SPARK_REMOTE")
            .env_remove("SPARK_CONNECT_MODE")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"))
    }

    /// Starts the Spark Connect server (after `stop_connect`) and waits until it answers.
    pub fn start_connect(&self) {
        let dir = self.dir.as_ref().expect("a throwaway cluster");
        let port = self.port.to_string();
        let warehouse = format!(
            "spark.sql.warehouse.dir={}",
            dir.join("warehouse").display()
        );
        let child = self.spawn(
            "spark-submit",
            &[
                "--class",
                "org.apache.spark.sql.connect.service.SparkConnectServer",
                "--name",
                "strata tests",
                "--master",
                &self.master_url,
                "--driver-memory",
                "1g",
                "--conf",
                "spark.executor.memory=768m",
                "--conf",
                "spark.ui.enabled=false",
                "--conf",
                "spark.connect.grpc.binding.address=127.0.0.1",
                "--conf",
                &format!("spark.connect.grpc.binding.port={port}"),
                "--conf",
                &warehouse,
                "--conf",
                "spark.sql.shuffle.partitions=4",
                // A Derby metastore in the cluster's folder: the catalog survives a restart
                // of the Connect server (the fault tests kill it).
                "--conf",
                "spark.sql.catalogImplementation=hive",
            ],
            "connect.log",
        );
        *self.connect.lock().unwrap() = Some(child);
        self.wait_until_up();
    }

    /// Stops the Spark Connect server at once (SIGKILL), as a crash would.
    pub fn kill_connect(&self) {
        if let Some(mut c) = self.connect.lock().unwrap().take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while port_answers(self.port) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_until_up(&self) {
        let started = Instant::now();
        loop {
            if port_answers(self.port) {
                return;
            }
            let exited = self
                .connect
                .lock()
                .unwrap()
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || started.elapsed() > START_TIMEOUT {
                let log = self
                    .dir
                    .as_ref()
                    .map(|d| {
                        std::fs::read_to_string(d.join("logs/connect.log")).unwrap_or_default()
                    })
                    .unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                panic!(
                    "the Spark Connect server did not answer on 127.0.0.1:{} ({}); its log ends:\n{}",
                    self.port,
                    match exited {
                        Some(s) => format!("it exited: {s}"),
                        None => format!("waited {}s", START_TIMEOUT.as_secs()),
                    },
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The pids of every JVM this process started.
    fn pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self.daemons.lock().unwrap().iter().map(Child::id).collect();
        if let Some(c) = self.connect.lock().unwrap().as_ref() {
            pids.push(c.id());
        }
        pids
    }
}

/// Starts the master, two workers and the Connect server.
fn start_cluster() -> SparkCluster {
    let home = spark_home();
    let tmp = tempfile::Builder::new()
        .prefix("strata-spark-")
        .tempdir()
        .unwrap()
        .keep();
    std::fs::create_dir_all(tmp.join("logs")).unwrap();
    let master_port = free_port();
    let port = free_port();
    let cluster = SparkCluster {
        url: format!("sc://127.0.0.1:{port}/"),
        port,
        dir: Some(tmp.clone()),
        master_url: format!("spark://127.0.0.1:{master_port}"),
        connect: Mutex::new(None),
        daemons: Mutex::new(Vec::new()),
        home,
    };
    let master = cluster.spawn(
        "spark-class",
        &[
            "org.apache.spark.deploy.master.Master",
            "--host",
            "127.0.0.1",
            "--port",
            &master_port.to_string(),
            "--webui-port",
            &free_port().to_string(),
        ],
        "master.log",
    );
    cluster.daemons.lock().unwrap().push(master);
    let deadline = Instant::now() + START_TIMEOUT;
    while !port_answers(master_port) {
        assert!(
            Instant::now() < deadline,
            "the Spark master did not answer on 127.0.0.1:{master_port}; see {}",
            tmp.join("logs/master.log").display()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    for n in 1..=2 {
        let work = tmp.join(format!("worker-{n}"));
        let worker = cluster.spawn(
            "spark-class",
            &[
                "org.apache.spark.deploy.worker.Worker",
                "--host",
                "127.0.0.1",
                "--cores",
                "1",
                "--memory",
                "1g",
                "--webui-port",
                &free_port().to_string(),
                "--work-dir",
                work.to_str().unwrap(),
                &cluster.master_url,
            ],
            &format!("worker-{n}.log"),
        );
        cluster.daemons.lock().unwrap().push(worker);
    }
    watchdog(&cluster);
    cluster.start_connect();
    cluster
}

/// Kills every JVM of the cluster (TERM, then KILL after 10 s) and removes its files once
/// this test process is gone. The Connect server's pid is read from a file the tests keep
/// current, since fault tests restart it.
fn watchdog(cluster: &SparkCluster) {
    let dir = cluster.dir.as_ref().unwrap();
    let me = std::process::id();
    let daemons: Vec<String> = cluster.pids().iter().map(u32::to_string).collect();
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; \
         P=\"{daemons} $(cat {pidfile} 2>/dev/null)\"; kill $P 2>/dev/null; \
         for i in $(seq 1 20); do sleep 0.5; kill -0 $P 2>/dev/null || break; done; \
         kill -9 $P 2>/dev/null; cd /; rm -rf {dir}",
        daemons = daemons.join(" "),
        pidfile = dir.join("connect.pid").display(),
        dir = dir.display(),
    );
    let started = Command::new("setsid")
        .args(["-f", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("setsid and sh exist");
    assert!(started.success(), "cannot start the cluster's watchdog");
}

impl SparkCluster {
    /// Records the Connect server's pid for the watchdog.
    fn remember_connect_pid(&self) {
        if let (Some(dir), Some(c)) = (&self.dir, self.connect.lock().unwrap().as_ref()) {
            let _ = std::fs::write(dir.join("connect.pid"), c.id().to_string());
        }
    }
}

/// The cluster shared by the tests of this binary.
pub fn cluster() -> &'static SparkCluster {
    static CLUSTER: OnceLock<SparkCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        if let Ok(url) = std::env::var("STRATA_TEST_SPARK_REMOTE") {
            let port = url
                .trim_start_matches("sc://")
                .split(['/', ';'])
                .next()
                .and_then(|a| a.rsplit_once(':'))
                .and_then(|(_, p)| p.parse().ok())
                .unwrap_or(15002);
            return SparkCluster {
                url,
                port,
                dir: None,
                master_url: String::new(),
                connect: Mutex::new(None),
                daemons: Mutex::new(Vec::new()),
                home: PathBuf::new(),
            };
        }
        let c = start_cluster();
        c.remember_connect_pid();
        c
    })
}

/// Restarts the Connect server of the shared cluster after `kill_connect`.
pub fn restart_connect(c: &SparkCluster) {
    c.start_connect();
    c.remember_connect_pid();
}

/// A fresh schema name for one test (the cluster is shared by the binary's tests).
pub fn fresh_schema(prefix: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs a query on the cluster through strata's own Spark Connect client and returns its rows
/// as text, sorted (NULL as `NULL`).
pub fn sorted_rows(url: &str, sql: &str) -> Vec<Vec<String>> {
    use strata::adapter::Adapter;
    let adapter = strata::adapter::spark::SparkAdapter::new(Some(url), None).unwrap();
    let mut conn = adapter.connect().unwrap();
    let mut rows: Vec<Vec<String>> = conn
        .query(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|v| v.unwrap_or_else(|| "NULL".into()))
                .collect()
        })
        .collect();
    rows.sort();
    rows
}

/// Runs strata in `dir` with `env` set (SPARK_REMOTE and the schema of the Spark target);
/// the SPARK_REMOTE of the test's own environment is not passed on.
pub fn strata(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_strata"));
    cmd.arg("--project-dir").arg(dir).args(args);
    cmd.env_remove("SPARK_REMOTE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("strata runs")
}

/// A run's exit code and output, for assertion messages.
pub fn text(o: &std::process::Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
