/* kernel/syscall.c: the system calls of user programs (ecall, number in a7, result in a0). */
#include "kernel/proc.h"

#define ERESTART (-1000) /* internal: leave pc on the ecall so the call runs again */

static struct proc *cur_proc(void)
{
	return k_cur->proc;
}

/*
 * A console write is an uninterruptible kernel section: a long one lets other
 * threads run at each tick (their output may land in between), but the write
 * always completes: a freeze or kill that arrives meanwhile takes effect at the
 * return-to-user boundary, after the last byte.
 */
static long sys_write(uint64_t buf, uint64_t len)
{
	char chunk[128];
	if (len > (1u << 20) || !vm_user_ok(cur_proc(), buf, len, HAL_PROT_R))
		return -K_EFAULT;
	for (uint64_t off = 0; off < len; off += sizeof(chunk)) {
		uint64_t n = len - off < sizeof(chunk) ? len - off : sizeof(chunk);
		if (vm_read(cur_proc(), buf + off, chunk, n))
			return -K_EFAULT; /* unmapped by another thread meanwhile */
		for (uint64_t i = 0; i < n; i++)
			hal_console_putc(chunk[i]);
		if (hal_timer_due()) {
			k_cur->in_kernel_section = 1;
			k_tick();
			sched_yield();
			k_cur->in_kernel_section = 0;
		}
	}
	return (long)len;
}

/* A user word used as a lock/condition: its physical address names the wait channel. */
static int user_word(uint64_t va, uint32_t **kp)
{
	if ((va & 3) || !vm_user_ok(cur_proc(), va, 4, HAL_PROT_R | HAL_PROT_W))
		return -K_EFAULT;
	*kp = (uint32_t *)hal_pt_lookup(cur_proc()->pt, va, 0);
	return *kp ? 0 : -K_EFAULT;
}

static long sys_mutex_lock(uint64_t va)
{
	uint32_t *w;
	if (user_word(va, &w))
		return -K_EFAULT;
	for (;;) {
		if (*w == 0) {
			*w = (uint32_t)k_cur->tid;
			return 0;
		}
		if (*w == (uint32_t)k_cur->tid)
			return -K_EDEADLK;
		if (k_sleep(w, 1))
			return ERESTART;
	}
}

static long sys_mutex_unlock(uint64_t va)
{
	uint32_t *w;
	if (user_word(va, &w))
		return -K_EFAULT;
	if (*w != (uint32_t)k_cur->tid)
		return -K_EPERM;
	*w = 0;
	k_wakeup_one(w);
	return 0;
}

static long sys_cond_wait(uint64_t cva, uint64_t mva)
{
	uint32_t *c, *m;
	if (user_word(cva, &c) || user_word(mva, &m))
		return -K_EFAULT;
	if (*m != (uint32_t)k_cur->tid)
		return -K_EPERM;
	*m = 0;
	k_wakeup_one(m);
	/* Taken out by a freeze: return as a spurious wakeup; the library relocks the mutex. */
	k_sleep(c, 1);
	return 0;
}

static long sys_cond_wake(uint64_t cva, int all)
{
	uint32_t *c;
	if (user_word(cva, &c))
		return -K_EFAULT;
	if (all)
		k_wakeup(c);
	else
		k_wakeup_one(c);
	return 0;
}

static long sys_sleep(struct hal_trapframe *tf, uint64_t ns)
{
	uint64_t deadline = hal_time_ns() + ns;
	if (k_sleep_until(deadline, 1) == 0)
		return 0;
	uint64_t now = hal_time_ns();
	tf->u.gpr[TF_A0] = deadline > now ? deadline - now : 0; /* restart with the time left */
	return ERESTART;
}

static long sys_join(uint64_t tid)
{
	struct proc *p = cur_proc();
	if ((int)tid == k_cur->tid)
		return -K_EDEADLK;
	for (;;) {
		int live = 0;
		for (int i = 0; i < K_MAX_THREADS; i++) {
			struct thread *t = &k_threads[i];
			if (t->proc == p && t->tid == (int)tid && t->state != T_UNUSED &&
			    t->state != T_DEAD)
				live = 1;
		}
		if (!live)
			return 0;
		if (k_sleep(&p->ch_join, 1))
			return ERESTART;
	}
}

static long sys_mmap(uint64_t len, uint64_t prot)
{
	struct proc *p = cur_proc();
	if (!len || len > (64UL << 20))
		return -K_EINVAL;
	uint64_t size = (len + HAL_PAGE_SIZE - 1) & ~(HAL_PAGE_SIZE - 1);
	if (p->mmap_next + size > HAL_USER_STACKS)
		return -K_ENOMEM;
	int hp = ((prot & K_PROT_READ) ? HAL_PROT_R : 0) | ((prot & K_PROT_WRITE) ? HAL_PROT_W : 0) |
		 ((prot & K_PROT_EXEC) ? HAL_PROT_X : 0);
	int r = vm_map_anon(p, p->mmap_next, size, hp, VMA_ANON, 0);
	if (r)
		return r;
	uint64_t a = p->mmap_next;
	p->mmap_next += size;
	return (long)a;
}

static long sys_kill(uint64_t pid, uint64_t sig)
{
	struct proc *p = proc_find((int)pid);
	if (!p)
		return -K_ESRCH;
	if (!sig || sig > 31)
		return -K_EINVAL;
	proc_kill(p, (int)sig);
	return 0;
}

void syscall_dispatch(struct hal_trapframe *tf)
{
	uint64_t a0 = hal_tf_arg(tf, 0), a1 = hal_tf_arg(tf, 1), a2 = hal_tf_arg(tf, 2),
		 a3 = hal_tf_arg(tf, 3);
	long r;
	hal_tf_skip_syscall(tf);
	switch (hal_tf_arg(tf, 7)) {
	case SYS_write: r = sys_write(a0, a1); break;
	case SYS_exit:
		proc_exit(cur_proc(), (int)a0);
		thread_exit_current();
	case SYS_thread_create:
		r = thread_create_user(cur_proc(), a0, a1, a2, (int)a3);
		break;
	case SYS_thread_exit: thread_exit_current();
	case SYS_thread_join: r = sys_join(a0); break;
	case SYS_sleep: r = sys_sleep(tf, a0); break;
	case SYS_yield: sched_yield(); r = 0; break;
	case SYS_mutex_lock: r = sys_mutex_lock(a0); break;
	case SYS_mutex_unlock: r = sys_mutex_unlock(a0); break;
	case SYS_cond_wait: r = sys_cond_wait(a0, a1); break;
	case SYS_cond_signal: r = sys_cond_wake(a0, 0); break;
	case SYS_cond_broadcast: r = sys_cond_wake(a0, 1); break;
	case SYS_mmap: r = sys_mmap(a0, a1); break;
	case SYS_munmap: r = vm_unmap(cur_proc(), a0, a1); break;
	case SYS_getpid: r = cur_proc()->pid; break;
	case SYS_gettid: r = k_cur->tid; break;
	case SYS_kill: r = sys_kill(a0, a1); break;
	case SYS_abort:
		/* abort() is a fault of the calling thread, reported at the ecall. */
		tf->u.gpr[TF_PC] -= 4;
		k_fault(K_SIGABRT, "abort", 0);
		return;
	case SYS_dump: r = proc_dump_request(cur_proc()); break;
	case SYS_time_ns: r = (long)hal_time_ns(); break;
	case SYS_freepages: r = (long)k_pages_free(); break;
	default: r = -K_ENOSYS; break;
	}
	if (r == ERESTART)
		tf->u.gpr[TF_PC] -= 4; /* a0 still holds the first argument */
	else
		hal_tf_set_ret(tf, (uint64_t)r);
}
