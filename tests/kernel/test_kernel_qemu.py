"""End-to-end tests of the corecast kernel in QEMU riscv64: boot, programs, faults, freeze, cores in gdb."""
import hashlib
import re
import subprocess

import pytest

import kqemu as kvm
import kserial as serialcore

CRASHDEMO = kvm.USER / "crashdemo"
pytestmark = pytest.mark.skipif(not kvm.KERNEL.exists(), reason="make kernel first")

# mode -> (signal as gdb names it, function of frame #0, kernel's signal number)
MODES = {
    "segv": ("SIGSEGV", "crash_segv", 11),
    "stackoverflow": ("SIGSEGV", "recurse", 11),
    "illegal": ("SIGILL", "crash_illegal", 4),
    "misaligned": ("SIGBUS", "crash_misaligned", 7),
    "breakpoint": ("SIGTRAP", "crash_breakpoint", 5),
    "abort": ("SIGABRT", "cc_syscall", 6),
}

# crashdemo's helper threads, in creation order: where each must be blocked in the core.
ROLES = ["cc_mutex_lock", "cc_cond_wait", "cc_sleep_ms", "busy"]


def boot_free_pages(out):
    return int(re.search(r"\[k\] corecast kernel .* (\d+) free pages", out).group(1))


def only_dump(out, tmp_path, name="core"):
    dumps = serialcore.dumps_in(out)
    assert len(dumps) == 1, out[-2000:]
    d = dumps[0]
    assert d.crc_ok
    line = serialcore.core_lines(out)[0]
    assert line["size"] == len(d.core)
    assert line["sha256"] == hashlib.sha256(d.core).hexdigest()
    path = tmp_path / name
    path.write_bytes(d.core)
    return d, path


def test_boot_run_exit_status_and_poweroff():
    out = kvm.run("run=hello:7:two poweroff", timeout=60)
    assert "hello from pid 1" in out
    assert "argv[1]=7" in out and "argv[2]=two" in out
    assert "[k] exit pid=1 name=hello status=exit 7" in out
    m = re.search(r"all programs exited; free pages=(\d+); poweroff", out)
    assert m and int(m.group(1)) == boot_free_pages(out)


def test_unknown_bootarg_is_reported_not_fatal():
    out = kvm.run("bogus=1 run=hello poweroff", timeout=60)
    assert "ignoring 'bogus=1'" in out
    assert "status=exit 0" in out


@pytest.mark.parametrize("mode", list(MODES))
def test_fault_mode_core_loads_in_gdb(mode, tmp_path):
    signame, func, signo = MODES[mode]
    out = kvm.run(f"run=crashdemo:mode={mode}:threads=4:fp=1 poweroff", timeout=90)
    assert f"status=signal {signo} " in out
    fault = re.search(r"\[k\] fault pid=1 tid=(\d+) .* at pc=0x([0-9a-f]+)", out)
    crash_tid, crash_pc = int(fault.group(1)), int(fault.group(2), 16)
    d, core = only_dump(out, tmp_path)
    assert d.header.startswith("/bin/crashdemo: ")
    tids = kvm.prstatus_tids(d.core)
    assert tids[0] == crash_tid and len(tids) == 5 and len(set(tids)) == 5

    g = kvm.gdb(core, CRASHDEMO, "info threads", "bt", "p/x $pc", "p $fs0", "p $fs11",
                "thread apply all bt")
    assert f"Program terminated with signal {signame}" in g
    first = re.search(r"^#0 .*$", g, re.M).group(0)
    assert f" {func} " in first and "crashdemo.c:" in first or "ulib.c:" in first, g
    assert re.search(r"^#\d+ .* do_crash .* at kernel/user/crashdemo\.c:\d+", g, re.M), g
    assert re.search(r"^#\d+ .* main .* at kernel/user/crashdemo\.c:\d+", g, re.M), g
    assert f"= 0x{crash_pc:x}" in g
    # FP registers as crashdemo set them (fs0 = 1.5 ... fs11 = 12.5).
    assert "double = 1.5" in g and "double = 12.5" in g, g
    # Every helper thread present, with the pc of where it was blocked.
    assert len(re.findall(r"^\s+\d+\s+LWP \d+", g, re.M)) == 4, g
    for role in ROLES:
        assert re.search(rf"in {role} \(|^#0\s+{role} \(", g, re.M), (role, g)

    p = subprocess.run(["eu-readelf", "-n", str(core)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    assert p.returncode == 0, p.stdout
    for note in ("PRSTATUS", "FPREGSET", "PRPSINFO", "SIGINFO", "AUXV", "FILE"):
        assert note in p.stdout, (note, p.stdout)
    assert p.stdout.count("PRSTATUS") == 5
    assert "unknown" not in p.stdout.lower() or "CORECAST" in p.stdout


def test_locals_readable_in_crashing_frames(tmp_path):
    out = kvm.run("run=crashdemo:mode=segv poweroff", timeout=60)
    _, core = only_dump(out, tmp_path)
    g = kvm.gdb(core, CRASHDEMO, "info locals", "p depth_marker", "up", "info locals")
    assert "local_answer = 49" in g
    assert "$1 = 7" in g
    assert "marker = 7" in g


def test_stack_overflow_dumps_whole_stack_mapping(tmp_path):
    out = kvm.run("run=crashdemo:mode=stackoverflow corecast.scope=stack poweroff", timeout=60)
    assert "stack overflow (guard page)" in out
    d, core = only_dump(out, tmp_path)
    loads = kvm.elf_loads(d.core)
    stack = [l for l in loads if l[0] >= 0x60000000]
    # SP is in the guard page, outside every mapping: the whole 64 KiB stack is dumped.
    assert any(l[1] == 65536 for l in stack), loads
    g = kvm.gdb(core, CRASHDEMO, "bt 3")
    assert "recurse" in g


def dumped_stack_bytes(core):
    return [l[1] for l in kvm.elf_loads(core) if l[0] >= 0x60000000 and l[1]]


def test_memory_scopes_and_caps(tmp_path):
    # All five boots at once in one kernel would interleave; one boot per setting.
    res = {}
    for key, args in {
        "stack": "corecast.scope=stack",
        "stacks": "corecast.scope=stacks",
        "writable": "corecast.scope=writable",
        "all": "corecast.scope=all",
        "stack_cap": "corecast.scope=stack corecast.stack_cap=8K mode=stackoverflow",
        "total_cap": "corecast.scope=all corecast.total_cap=16K",
        "thread_cap": "corecast.thread_cap=2",
    }.items():
        mode = "stackoverflow" if "mode=stackoverflow" in args else "segv"
        args = args.replace(" mode=stackoverflow", "")
        out = kvm.run(f"run=crashdemo:mode={mode}:threads=3 corecast.device=unit-42 {args} "
                      "poweroff", timeout=60)
        d, _ = only_dump(out, tmp_path, key)
        res[key] = (d.core, serialcore.core_lines(out)[0])
    assert len(dumped_stack_bytes(res["stack"][0])) == 1
    assert len(dumped_stack_bytes(res["stacks"][0])) == 4
    assert res["writable"][1]["memory"] > res["stacks"][1]["memory"]
    assert res["all"][1]["memory"] > res["writable"][1]["memory"]
    # Writable scope dumps the data segment, which the all-stacks scope leaves out.
    assert any(l[0] >= 0x40001000 and l[0] < 0x50000000 and l[1] and l[3] & 2
               for l in kvm.elf_loads(res["writable"][0]))
    # The overflowing stack is dumped whole (64 KiB) without a cap; the cap cuts it to 8 KiB.
    assert dumped_stack_bytes(res["stack_cap"][0]) == [8192]
    assert res["total_cap"][1]["memory"] < res["all"][1]["memory"]
    assert res["thread_cap"][1]["threads"] == 2
    assert len(kvm.prstatus_tids(res["thread_cap"][0])) == 2
    for core, _ in res.values():
        assert b"unit-42" in core  # device id in the project note


def test_dump_on_request_by_syscall_process_carries_on(tmp_path):
    out = kvm.run("run=crashdemo:mode=none:threads=4:dump=1:progress=10 poweroff", timeout=90)
    d, core = only_dump(out, tmp_path)
    assert d.header == "/bin/crashdemo: dump requested"
    assert len(kvm.prstatus_tids(d.core)) == 5
    after = out[out.index("crashdemo: dump done"):]
    assert [int(x) for x in re.findall(r"crashdemo progress (\d+)", after)] == list(range(10))
    assert "[k] exit pid=1 name=crashdemo status=exit 0" in out
    g = kvm.gdb(core, CRASHDEMO, "thread apply all bt")
    for role in ROLES:
        assert role in g, (role, g)


def test_dump_on_request_by_console_command(tmp_path):
    with kvm.Kernel("run=crashdemo:mode=none:threads=4:progress=40:delay=0", timeout=120) as k:
        k.expect(r"crashdemo progress 5\n")
        k.send("dump 1")
        k.expect(r"\[k\] dump pid=1 .*\(on request\)")
        k.expect(r"crashdemo done")
        k.expect(r"\[k\] exit pid=1 name=crashdemo status=exit 0")
        k.send("poweroff")
        out = k.wait()
    d, core = only_dump(out, tmp_path)
    assert len(kvm.prstatus_tids(d.core)) == 5
    # Nothing lost: every progress line, in order, around the dump.
    assert [int(x) for x in re.findall(r"crashdemo progress (\d+)", out)] == list(range(40))
    g = kvm.gdb(core, CRASHDEMO, "thread apply all bt")
    # The main thread was frozen inside its sleep, at the ecall.
    assert "cc_sleep_ms" in g and "main" in g


def test_two_processes_faulting_together_each_dumped_whole(tmp_path):
    out = kvm.run("run=crashdemo:mode=segv:threads=3:delay=100 "
                  "run=crashdemo:mode=abort:threads=2:delay=100 poweroff", timeout=90)
    dumps = serialcore.dumps_in(out)
    assert len(dumps) == 2 and all(d.crc_ok for d in dumps)
    counts = sorted(len(kvm.prstatus_tids(d.core)) for d in dumps)
    assert counts == [3, 4]
    for i, d in enumerate(dumps):
        path = tmp_path / f"core{i}"
        path.write_bytes(d.core)
        g = kvm.gdb(path, CRASHDEMO, "bt")
        assert "do_crash" in g
    assert "status=signal 11" in out and "status=signal 6" in out


def test_churning_threads_fault_consistent_dump(tmp_path):
    out = kvm.run("run=crashdemo:mode=segv:churn=32:delay=500 poweroff", timeout=120)
    churned = int(re.search(r"crashing now \(segv\) churned=(\d+)", out).group(1))
    assert churned > 32
    d, core = only_dump(out, tmp_path)
    tids = kvm.prstatus_tids(d.core)
    assert len(tids) == len(set(tids))  # each live thread once
    assert len(tids) == serialcore.core_lines(out)[0]["threads"]
    assert len(tids) >= 3
    g = kvm.gdb(core, CRASHDEMO, "info threads")
    assert len(re.findall(r"^\*?\s+\d+\s+LWP \d+", g, re.M)) == len(tids), g
    assert "status=signal 11" in out


def test_hundred_crashes_free_pages_back():
    with kvm.Kernel("", timeout=300) as k:
        k.expect(r"\[k\] corecast kernel")
        k.send("free")
        before = int(k.expect(r"\[k\] free pages=(\d+) ").group(1))
        for i in range(100):
            m = k.mark()
            k.send("run crashdemo:mode=segv:threads=2:delay=1")
            k.expect(rf"\[k\] exit pid={i + 1} name=crashdemo status=signal 11", start=m)
        m = k.mark()
        k.send("free")
        after = int(k.expect(r"\[k\] free pages=(\d+) ", start=m).group(1))
        k.send("poweroff")
        out = k.wait()
    assert len(serialcore.dumps_in(out)) == 100
    assert after == before


def test_syscalls_and_scheduler():
    out = kvm.run("run=ktest poweroff", timeout=90)
    oks = re.findall(r"ktest ok (\w+)", out)
    assert "ktest FAIL" not in out, out[-3000:]
    for name in ("getpid", "gettid", "mutex_counter", "condvar_queue", "thread_join",
                 "sleep_100ms", "priority_order", "preemption_both_progress",
                 "mmap_zeroed_writable", "mmap_pages_taken", "munmap", "munmap_bad",
                 "kill_bad_pid", "write_unmapped_efault", "write_kernel_memory_efault",
                 "mutex_kernel_word_efault", "mutex_text_word_efault", "unknown_syscall_enosys",
                 "mmap_too_big", "mutex_unlock_not_owner", "fp_state_per_thread"):
        assert name in oks, (name, out[-3000:])
    assert "[k] exit pid=1 name=ktest status=exit 0" in out


def test_access_after_munmap_faults_and_is_dumped(tmp_path):
    out = kvm.run("run=ktest:touch_unmapped poweroff", timeout=90)
    assert re.search(r"\[k\] fault pid=1 .*store page fault .* addr=0x5000[0-9a-f]{4}\b", out)
    d, core = only_dump(out, tmp_path)
    g = kvm.gdb(core, kvm.USER / "ktest", "bt")
    assert "main" in g and "ktest.c" in g
    assert "status=signal 11" in out


def test_kill_from_console_terminates_with_signal():
    with kvm.Kernel("run=ktest:wait_kill poweroff", timeout=90) as k:
        k.expect(r"ktest waiting to be killed")
        k.send("ps")
        k.expect(r"\[k\] ps pid=1 name=ktest threads=1")
        k.send("kill 1 9")
        out = k.wait()
    assert "[k] exit pid=1 name=ktest status=signal 9 (SIGKILL)" in out
    assert serialcore.dumps_in(out) == []


@pytest.mark.skipif(not (kvm.ROOT / "build/bin/corecastctl").exists(), reason="corecastctl not built")
def test_console_log_imports_into_collector_store(tmp_path):
    out = kvm.run("run=crashdemo:mode=illegal:threads=2 corecast.device=qemu-unit-7 poweroff",
                  timeout=60)
    log = tmp_path / "console.log"
    log.write_text(out)
    ctl = str(kvm.ROOT / "build/bin/corecastctl")
    store = str(tmp_path / "store")
    p = subprocess.run([ctl, "--store", store, "import-serial", str(log)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert p.returncode == 0, p.stdout
    p = subprocess.run([ctl, "--store", store, "info", "1"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    assert "qemu-unit-7" in p.stdout and "SIGILL" in p.stdout and "crashdemo" in p.stdout, p.stdout
    d = serialcore.dumps_in(out)[0]
    assert hashlib.sha256(d.core).hexdigest() in p.stdout


def test_thread_in_uninterruptible_syscall_finishes_before_freeze(tmp_path):
    out = kvm.run("run=crashdemo:mode=segv:writer=1:delay=100 poweroff", timeout=90)
    # The writer was preempted inside a 4 KiB console write when the fault came ...
    assert re.search(r"\[k\] freeze pid=1: tid=\d+ finishes its kernel work first", out), out[-500:]
    # ... and every write it started completed before the dump began.
    before = out[out.index("[k] spawn pid=1"):out.index(serialcore.START)]
    assert before.count("W") % 4096 == 0 and before.count("W") >= 4096
    d, core = only_dump(out, tmp_path)
    g = kvm.gdb(core, CRASHDEMO, "thread apply all bt")
    assert re.search(r"cc_syscall \(n=1,", g) and "writer" in g, g


def test_thread_created_during_freeze_is_born_frozen(tmp_path):
    # test.yield_in_create parks the spawner inside thread creation when main faults.
    out = kvm.run("run=crashdemo:mode=segv:spawner=1:delay=200 test.yield_in_create poweroff",
                  timeout=90)
    m = re.search(r"\[k\] freeze pid=1: tid=(\d+) born frozen", out)
    assert m, out[-2000:]
    born = int(m.group(1))
    d, core = only_dump(out, tmp_path)
    tids = kvm.prstatus_tids(d.core)
    assert born in tids and len(tids) == len(set(tids))
    g = kvm.gdb(core, CRASHDEMO, "thread apply all bt 1")
    # It never ran: frozen at its entry point, with the spawner right after its ecall.
    assert re.search(rf"LWP {born}\)[^#]*#0\s+thread_entry", g), g
    assert "status=signal 11" in out


def test_second_fault_during_freeze_waits_and_is_dumped_once(tmp_path):
    # test.yield_in_fault lets the second thread fault before the first one freezes.
    out = kvm.run("run=crashdemo:mode=segv:faulters=1:delay=200 test.yield_in_fault poweroff",
                  timeout=90)
    faults = re.findall(r"\[k\] fault pid=1 tid=(\d+) name=crashdemo: store page fault", out)
    assert len(faults) == 2, out[-2000:]
    assert f"[k] fault pid=1 tid={faults[1]}: waits for the freeze in progress" in out
    d, core = only_dump(out, tmp_path)  # exactly one dump, no recursion
    assert kvm.prstatus_tids(d.core) == [int(faults[0]), int(faults[1])]
    g = kvm.gdb(core, CRASHDEMO, "thread apply all bt 2")
    # Both threads at their own faulting store, in crash_segv called with their marker.
    assert "crash_segv (depth_marker=7)" in g and "crash_segv (depth_marker=2)" in g, g
    assert "second_faulter" in g
    assert out.count("[k] exit pid=1 ") == 1 and "status=signal 11" in out


def test_waits_resume_correctly_after_dump_request():
    out = kvm.run("run=ktest:unfreeze poweroff", timeout=90)
    assert "ktest FAIL" not in out, out[-3000:]
    for name in ("fp_state_per_thread", "dump_request", "unfreeze_mutex_still_waits",
                 "unfreeze_cond_still_waits", "unfreeze_cond_wakes", "unfreeze_mutex_acquires",
                 "unfreeze_sleep_keeps_deadline"):
        assert f"ktest ok {name}" in out, (name, out[-3000:])
    dumps = serialcore.dumps_in(out)
    assert len(dumps) == 1 and dumps[0].crc_ok and len(kvm.prstatus_tids(dumps[0].core)) == 4


def test_mapping_protections_enforced_text_not_writable(tmp_path):
    out = kvm.run("run=crashdemo:mode=writetext poweroff", timeout=60)
    m = re.search(r"\[k\] fault pid=1 .*: store page fault at pc=0x[0-9a-f]+ addr=0x(4000[0-9a-f]{4})", out)
    assert m, out[-1500:]
    d, core = only_dump(out, tmp_path)
    # The core keeps the protections: the text segment is R+X, not W.
    text = [l for l in kvm.elf_loads(d.core) if l[0] == 0x40000000]
    assert text and text[0][3] == 5  # PF_R | PF_X
    g = kvm.gdb(core, CRASHDEMO, "bt 1")
    assert "do_crash" in g and "status=signal 11" in out


def test_make_qemu_returns_when_the_machine_powers_off():
    p = subprocess.run(["make", "-s", "--no-print-directory", "qemu",
                        "BOOTARGS=run=hello:3 poweroff"], cwd=kvm.ROOT, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=120 * kvm.SLOW)
    assert p.returncode == 0, p.stdout[-2000:]
    assert "[k] exit pid=1 name=hello status=exit 3" in p.stdout
    assert "poweroff" in p.stdout.splitlines()[-1]


def test_other_processes_keep_running_through_a_crash(tmp_path):
    out = kvm.run("run=crashdemo:mode=none:threads=2:progress=20:delay=0 "
                  "run=crashdemo:mode=segv:threads=2:delay=300 poweroff", timeout=90)
    # pid 2 faults and is dumped while pid 1 is mid-way through its progress lines.
    fault_at = out.index("[k] fault pid=2 ")
    progress = [int(x) for x in re.findall(r"crashdemo progress (\d+)", out)]
    assert progress == list(range(20))
    assert re.search(r"crashdemo progress \d+", out[fault_at:]), "pid 1 ran on after the fault"
    assert "[k] exit pid=1 name=crashdemo status=exit 0" in out
    assert "[k] exit pid=2 name=crashdemo status=signal 11 (SIGSEGV)" in out
    d, _ = only_dump(out, tmp_path)
    assert len(kvm.prstatus_tids(d.core)) == 3


def test_kill_syscall_terminates_with_signal_and_no_dump():
    out = kvm.run("run=ktest:kill_self poweroff", timeout=90)
    assert "ktest killing itself" in out
    assert "still alive" not in out
    assert "[k] exit pid=1 name=ktest status=signal 15 (SIGTERM)" in out
    assert serialcore.dumps_in(out) == []
