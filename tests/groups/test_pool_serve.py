"""The pool's long-lived `corecast-symbolize --serve` workers: one worker serves many
dumps; a worker killed mid-job, or one that prints garbage, costs that one job and is
replaced; a hostile core among good ones fails alone; workers are retired after K jobs
or past an RSS bound.  Real cores, the real worker, a real store."""
import pytest

from test_groups import (SYMBOLIZER, info, pool_run, progs, store_import,  # noqa: F401
                         write_script, groups)

TITLE = "SIGSEGV in bug_level3 <- bug_level2 <- bug_level1"


def good_dumps(store, progs, n, prefix="dev"):
    return [store_import(store, progs["cores"]["segv"], f"{prefix}-{i}") for i in range(n)]


def status(store, dump):
    return info(store, dump)["symbolization"]


def test_one_worker_serves_many_dumps(tmp_path, progs):
    store = tmp_path / "store"
    ids = good_dumps(store, progs, 6)
    stats, log = pool_run(store, "--workers", "1")
    assert stats["done"] == 6 and stats["failed"] == 0, (stats, log)
    assert stats["workers_started"] == 1, stats   # the cache lives across dumps
    assert all(status(store, i)["status"] == "done" for i in ids)
    g = groups(store)
    assert len(g) == 1 and g[0]["devices"] == 6 and g[0]["title"] == TITLE


def test_worker_killed_mid_job_is_replaced_and_the_next_job_succeeds(tmp_path, progs):
    store = tmp_path / "store"
    ids = good_dumps(store, progs, 3)
    mark = tmp_path / "killed-once"
    # The first worker takes its job, then is SIGKILLed before it answers; later
    # workers are the real one.
    wrapper = write_script(tmp_path / "sym.sh", f'''if [ ! -e "{mark}" ]; then
  touch "{mark}"; read job; echo "taken: $job" >&2; kill -KILL $$
fi
exec "{SYMBOLIZER}" "$@"
''')
    stats, log = pool_run(store, "--workers", "1", symbolizer=wrapper)
    assert stats["failed"] == 1 and stats["done"] == 2, (stats, log)
    assert stats["workers_started"] == 2, stats
    first = status(store, ids[0])
    assert first["status"] == "failed" and "SIGKILL" in first["reason"], first
    assert all(status(store, i)["status"] == "done" for i in ids[1:])


def test_serve_worker_that_prints_garbage_is_killed_and_replaced(tmp_path, progs):
    store = tmp_path / "store"
    ids = good_dumps(store, progs, 3)
    mark = tmp_path / "junk-once"
    wrapper = write_script(tmp_path / "sym.sh", f'''if [ ! -e "{mark}" ]; then
  touch "{mark}"; read job; printf '{{"threads":[{{"frames":\\n'; exec sleep 300
fi
exec "{SYMBOLIZER}" "$@"
''')
    stats, log = pool_run(store, "--workers", "1", symbolizer=wrapper)
    first = status(store, ids[0])
    assert first["status"] == "failed" and "result protocol" in first["reason"], first
    assert '{"threads"' in first["reason"]
    assert stats["done"] == 2 and stats["workers_started"] == 2, (stats, log)


def test_serve_worker_that_hangs_or_crashes_fails_its_job_only(tmp_path, progs):
    store = tmp_path / "store"
    ids = good_dumps(store, progs, 3)
    mark = tmp_path / "n"
    # first worker hangs on its job, second dies of SIGSEGV, third is the real one
    wrapper = write_script(tmp_path / "sym.sh", f'''n=$(cat "{mark}" 2>/dev/null || echo 0)
echo $((n + 1)) > "{mark}"
if [ "$n" = 0 ]; then read job; exec sleep 300; fi
if [ "$n" = 1 ]; then read job; echo "about to die" >&2; kill -SEGV $$; fi
exec "{SYMBOLIZER}" "$@"
''')
    stats, log = pool_run(store, "--workers", "1", "--timeout", "2", symbolizer=wrapper)
    assert status(store, ids[0])["status"] == "failed"
    assert "timed out after 2 s" in status(store, ids[0])["reason"]
    crashed = status(store, ids[1])
    assert crashed["status"] == "failed" and "SIGSEGV" in crashed["reason"]
    assert "about to die" in crashed["reason"]
    assert status(store, ids[2])["status"] == "done", log
    assert stats["timeouts"] == 1 and stats["workers_started"] == 3, stats


def test_hostile_core_among_good_ones_fails_alone(tmp_path, progs):
    store = tmp_path / "store"
    data = progs["cores"]["segv"].read_bytes()
    hostile = tmp_path / "truncated.core"
    hostile.write_bytes(data[:200])
    notes = bytearray(data)
    notes[0x38:0x3a] = (65535).to_bytes(2, "little")   # e_phnum: 65535 headers
    bogus = tmp_path / "phnum.core"
    bogus.write_bytes(bytes(notes))
    before = good_dumps(store, progs, 3, "before")
    bad = [store_import(store, hostile, "dev-trunc"), store_import(store, bogus, "dev-phnum")]
    after = good_dumps(store, progs, 3, "after")
    stats, log = pool_run(store, "--workers", "1")
    for b in bad:
        rec = status(store, b)
        assert rec["status"] == "failed" and rec["reason"], rec
    assert all(status(store, i)["status"] == "done" for i in before + after), log
    # a core the worker refuses is a failure record, not a dead worker
    assert stats["workers_started"] == 1, (stats, log)


def test_workers_are_retired_after_k_jobs(tmp_path, progs):
    store = tmp_path / "store"
    ids = good_dumps(store, progs, 7)
    stats, log = pool_run(store, "--workers", "1", "--worker-jobs", "3")
    assert stats["done"] == 7, (stats, log)
    assert stats["workers_started"] == 3 and stats["retired_jobs"] == 2, stats
    assert all(status(store, i)["status"] == "done" for i in ids)


def test_worker_recycling_bounds_memory(tmp_path, progs):
    store = tmp_path / "store"
    good_dumps(store, progs, 4)
    # a bound below any real worker's RSS: every worker is retired after its job
    stats, log = pool_run(store, "--workers", "1", "--worker-rss", str(1 << 20))
    assert stats["done"] == 4, (stats, log)
    assert stats["retired_rss"] == 4 and stats["workers_started"] == 4, stats
    assert "retired at" in log
    # and with the default bound, one worker's RSS after a few dumps stays modest
    assert 0 < stats["worker_rss_peak_kb"] < 256 * 1024, stats


def test_worker_over_its_memory_limit_fails_the_job_and_is_replaced(tmp_path, progs):
    store = tmp_path / "store"
    ids = good_dumps(store, progs, 2)
    mark = tmp_path / "big-once"
    # the first worker tries to hold 100 MB under a 48 MiB address-space limit
    wrapper = write_script(tmp_path / "sym.sh", f'''if [ ! -e "{mark}" ]; then
  touch "{mark}"; read job; x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo "${{#x}}"
fi
exec "{SYMBOLIZER}" "$@"
''')
    stats, log = pool_run(store, "--workers", "1", "--memory", str(48 << 20), symbolizer=wrapper)
    first = status(store, ids[0])
    assert first["status"] == "failed" and "48 MiB" in first["reason"], (first, log)
    assert status(store, ids[1])["status"] == "done", log


def test_serve_worker_over_its_cpu_budget_is_killed(tmp_path, progs):
    """CPU time is counted per job from the worker's /proc/PID/stat, not over the
    worker's life: a spinning job is killed at its own budget, long before the
    wall-clock deadline, and the next job gets a fresh worker."""
    store = tmp_path / "store"
    ids = good_dumps(store, progs, 2)
    mark = tmp_path / "spin-once"
    wrapper = write_script(tmp_path / "sym.sh", f'''if [ ! -e "{mark}" ]; then
  touch "{mark}"; read job; while :; do :; done
fi
exec "{SYMBOLIZER}" "$@"
''')
    stats, log = pool_run(store, "--workers", "1", "--timeout", "60", "--cpu", "1",
                          symbolizer=wrapper)
    first = status(store, ids[0])
    # killed by the pool's /proc check, or by RLIMIT_CPU (moved per job) if the
    # pool's tick came late on a loaded machine
    assert first["status"] == "failed", first
    assert ("more than 1 s of CPU" in first["reason"] or
            "SIGXCPU (CPU limit 1 s)" in first["reason"]), first
    assert stats["timeouts"] == 0
    assert status(store, ids[1])["status"] == "done", log
