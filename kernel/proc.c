/* kernel/proc.c: process and thread lifecycle: spawn from an embedded image, create, exit, kill. */
#include "kernel/proc.h"

struct thread k_threads[K_MAX_THREADS];
struct proc k_procs[K_MAX_PROCS];
struct proc *k_kernel_proc = &k_procs[0];
static uint8_t kstacks[K_MAX_THREADS][K_KSTACK] __attribute__((aligned(16)));
static int next_pid = 1, next_tid = 1;

static const char *const signames[] = {
	[K_SIGILL] = "SIGILL", [K_SIGTRAP] = "SIGTRAP", [K_SIGABRT] = "SIGABRT",
	[K_SIGBUS] = "SIGBUS", [K_SIGKILL] = "SIGKILL", [K_SIGSEGV] = "SIGSEGV",
	[K_SIGTERM] = "SIGTERM",
};

const char *k_signame(int sig)
{
	if (sig > 0 && sig < (int)(sizeof(signames) / sizeof(signames[0])) && signames[sig])
		return signames[sig];
	return "SIG?";
}

struct thread *thread_alloc(struct proc *p, int prio)
{
	for (int i = 0; i < K_MAX_THREADS; i++) {
		struct thread *t = &k_threads[i];
		if (t->state != T_UNUSED)
			continue;
		memset(t, 0, sizeof(*t));
		t->tid = next_tid++;
		t->prio = prio < K_PRIO_MIN ? K_PRIO_MIN : prio > K_PRIO_MAX ? K_PRIO_MAX : prio;
		t->proc = p;
		t->kstack = kstacks[i];
		t->state = T_SLEEPING; /* not runnable until its creator says so */
		p->nthreads++;
		return t;
	}
	return 0;
}

static void kthread_start(void)
{
	k_cur->kfn();
	thread_exit_current();
}

struct thread *kthread_create(void (*fn)(void), int prio)
{
	struct thread *t = thread_alloc(k_kernel_proc, prio);
	if (!t)
		return 0;
	t->kfn = fn;
	hal_kctx_init(&t->kctx, t->kstack + K_KSTACK, kthread_start);
	sched_make_runnable(t);
	return t;
}

/* First run of a user thread: through the boundary checks (it may be born frozen), then user mode. */
static void user_thread_start(void)
{
	k_user_boundary();
	hal_return_to_user(&k_cur->tf);
}

static struct thread *new_user_thread(struct proc *p, uint64_t entry, uint64_t arg0,
				      uint64_t arg1, uint64_t tp, int prio, uint64_t *sp_out)
{
	struct thread *t = thread_alloc(p, prio);
	if (!t)
		return 0;
	uint64_t sp = vm_alloc_stack(p, t->tid, &t->stack_lo, &t->stack_hi);
	if (!sp) {
		t->state = T_UNUSED;
		p->nthreads--;
		return 0;
	}
	hal_tf_init_user(&t->tf, t->kstack + K_KSTACK, entry, sp, arg0, arg1, tp);
	hal_kctx_init(&t->kctx, t->kstack + K_KSTACK, user_thread_start);
	if (sp_out)
		*sp_out = sp;
	return t;
}

/* A thread created while its process is being frozen is born frozen. */
static void start_thread(struct thread *t)
{
	struct proc *p = t->proc;
	if (p->freezer) {
		k_printf("[k] freeze pid=%d: tid=%d born frozen\n", p->pid, t->tid);
		t->freeze_pending = 1;
		t->state = T_FROZEN;
		k_wakeup(&p->ch_freeze);
	} else {
		sched_make_runnable(t);
	}
}

int thread_create_user(struct proc *p, uint64_t entry, uint64_t arg, uint64_t tp, int prio)
{
	struct thread *t = new_user_thread(p, entry, arg, 0, tp, prio, 0);
	if (!t)
		return -K_EAGAIN;
	if (k_args.test_yield_create) {
		/* Test hook: give up the hart between building and starting the thread. */
		k_cur->in_kernel_section = 1;
		sched_yield();
		k_cur->in_kernel_section = 0;
	}
	start_thread(t);
	return t->tid;
}

struct proc *proc_find(int pid)
{
	for (int i = 1; i < K_MAX_PROCS; i++)
		if (k_procs[i].state == P_ALIVE && k_procs[i].pid == pid)
			return &k_procs[i];
	return 0;
}

int proc_alive_count(void)
{
	int n = 0;
	for (int i = 1; i < K_MAX_PROCS; i++)
		n += k_procs[i].state == P_ALIVE;
	return n;
}

/* Build argc/argv on the new stack from "PROG:ARG:ARG" (the run= syntax). */
static uint64_t push_args(struct proc *p, uint64_t sp, const char *spec, uint64_t *argv_out)
{
	char buf[K_RUN_MAX];
	uint64_t ptrs[16];
	int argc = 0;
	size_t n = strlen(spec);
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	memcpy(buf, spec, n);
	buf[n] = 0;
	sp -= n + 1;
	uint64_t strs = sp;
	vm_write(p, strs, buf, n + 1);
	ptrs[argc++] = strs;
	for (size_t i = 0; i < n && argc < 15; i++) {
		if (buf[i] == ':') {
			uint8_t z = 0;
			vm_write(p, strs + i, &z, 1);
			ptrs[argc++] = strs + i + 1;
		}
	}
	ptrs[argc] = 0;
	sp = (sp - (uint64_t)(argc + 1) * 8) & ~15UL;
	vm_write(p, sp, ptrs, (uint64_t)(argc + 1) * 8);
	*argv_out = sp;
	return (uint64_t)argc;
}

int proc_spawn(const char *spec)
{
	char name[32];
	size_t n = 0;
	while (spec[n] && spec[n] != ':' && n + 1 < sizeof(name))
		name[n] = spec[n], n++;
	name[n] = 0;
	const struct k_image *img = image_find(name);
	if (!img)
		return -K_EINVAL;
	struct proc *p = 0;
	for (int i = 1; i < K_MAX_PROCS && !p; i++)
		if (k_procs[i].state == P_UNUSED)
			p = &k_procs[i];
	if (!p)
		return -K_EAGAIN;
	memset(p, 0, sizeof(*p));
	p->pt = hal_pt_create();
	if (!p->pt)
		return -K_ENOMEM;
	p->state = P_ALIVE;
	p->pid = next_pid++;
	p->image = img;
	p->mmap_next = HAL_USER_MMAP;
	k_strlcpy(p->name, name, sizeof(p->name));
	k_strlcpy(p->args, spec, sizeof(p->args));
	for (char *c = p->args; *c; c++)
		if (*c == ':')
			*c = ' ';
	int r = elf_load(p, img);
	uint64_t sp = 0;
	struct thread *t = r ? 0 : new_user_thread(p, p->entry, 0, 0, 0, K_PRIO_DEFAULT, &sp);
	if (!t) {
		vm_free_all(p);
		p->state = P_UNUSED;
		return r ? r : -K_ENOMEM;
	}
	uint64_t argv;
	uint64_t argc = push_args(p, sp - 64, spec, &argv);
	t->tf.u.gpr[TF_SP] = argv;
	t->tf.u.gpr[TF_A0] = argc;
	t->tf.u.gpr[TF_A1] = argv;
	k_printf("[k] spawn pid=%d name=%s\n", p->pid, p->name);
	start_thread(t);
	return p->pid;
}

static void proc_finish(struct proc *p)
{
	vm_free_all(p);
	if (p->killed)
		k_printf("[k] exit pid=%d name=%s status=signal %d (%s)\n", p->pid, p->name,
			 p->killed, k_signame(p->killed));
	else
		k_printf("[k] exit pid=%d name=%s status=exit %d\n", p->pid, p->name,
			 (p->status >> 8) & 0xff);
	if (!p->killed && !p->exiting)
		p->status = 0;
	p->state = P_UNUSED;
	k_wakeup(k_procs);
}

void thread_exit_current(void)
{
	struct thread *t = k_cur;
	struct proc *p = t->proc;
	if (p != k_kernel_proc && t->stack_lo)
		vm_unmap(p, t->stack_lo, t->stack_hi - t->stack_lo);
	t->state = T_DEAD;
	p->nthreads--;
	k_wakeup(&p->ch_freeze);  /* a freezer counting threads */
	k_wakeup(&p->ch_join);
	if (p != k_kernel_proc && p->nthreads == 0)
		proc_finish(p);
	sched_switch_out();
	k_panic("dead thread %d scheduled", t->tid);
}

/* Terminate with a signal: every thread leaves at its next return-to-user boundary. */
void proc_kill(struct proc *p, int sig)
{
	if (!p->killed)
		p->killed = sig;
	p->status = sig;
	for (int i = 0; i < K_MAX_THREADS; i++) {
		struct thread *t = &k_threads[i];
		if (t->proc != p || t->state == T_UNUSED || t->state == T_DEAD)
			continue;
		k_interrupt(t);
		if (t->state == T_FROZEN) {
			t->freeze_pending = 0;
			sched_make_runnable(t);
		}
	}
}

void proc_exit(struct proc *p, int code)
{
	p->exiting = 1;
	p->status = (code & 0xff) << 8;
	for (int i = 0; i < K_MAX_THREADS; i++)
		if (k_threads[i].proc == p)
			k_interrupt(&k_threads[i]);
}
