// SPDX-License-Identifier: GPL-2.0
/*
 * xengt-mfn: tells a dom0 process the machine frames behind its own Xen
 * foreign mappings (xengt_mfn_uapi.h).
 *
 * Why a kernel module: a real GPU's page tables hold machine addresses, and
 * on Xen 4.17 nothing in dom0 userspace can learn them (getmemlist is gone,
 * the machine-to-phys table has no owner). In a PV dom0 the page-table entry
 * Xen installed for a foreign mapping holds the machine frame: this module
 * reads it, for mappings the caller already holds, and does nothing else.
 * It grants no access the caller did not have: the frames are those of pages
 * the caller can already read and write.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/uaccess.h>
#include <xen/xen.h>

#include "xengt_mfn_uapi.h"

/* privcmd's device: a foreign mapping is a mapping of this file. */
#define PRIVCMD_PATH "/dev/xen/privcmd"

/* The privcmd file operations, learned by opening the device (privcmd does
 * not export them). NULL if privcmd is not there. */
static const struct file_operations *privcmd_fops(void)
{
	struct file *f = filp_open(PRIVCMD_PATH, O_RDONLY, 0);
	const struct file_operations *fops;

	if (IS_ERR(f))
		return NULL;
	fops = f->f_op;
	filp_close(f, NULL);
	return fops;
}

/* The machine frame mapped at user address @addr of @mm, which must lie in
 * a privcmd mapping. Called with the mmap lock held for reading. */
static int machine_frame(struct mm_struct *mm, const struct file_operations *fops,
			 unsigned long addr, u64 *mfn)
{
	struct vm_area_struct *vma = vma_lookup(mm, addr);
	spinlock_t *ptl;
	pte_t *ptep;
	pteval_t raw;

	/* Only privcmd's mappings: PFN-mapped I/O areas of its file. */
	if (!vma || !vma->vm_file || vma->vm_file->f_op != fops ||
	    (vma->vm_flags & (VM_IO | VM_PFNMAP)) != (VM_IO | VM_PFNMAP))
		return -ENXIO;
	if (follow_pte(mm, addr, &ptep, &ptl))
		return -ENOENT;
	/*
	 * The raw entry, not pte_val(): in a PV domain pte_val() turns machine
	 * frames back into dom0's own pseudo-physical frames, and a foreign
	 * frame has none. Xen validated this entry when it installed it.
	 */
	raw = ptep->pte;
	pte_unmap_unlock(ptep, ptl);
	/* Foreign mappings are special entries (no struct page behind them). */
	if (!(raw & _PAGE_PRESENT) || !(raw & _PAGE_SPECIAL))
		return -ENOENT;
	*mfn = (raw & PTE_PFN_MASK) >> PAGE_SHIFT;
	return 0;
}

static long query(struct xengt_mfn_query __user *uarg)
{
	struct xengt_mfn_query q;
	const struct file_operations *fops;
	struct mm_struct *mm = current->mm;
	u64 *frames;
	u32 i;
	long ret = 0;

	if (copy_from_user(&q, uarg, sizeof(q)))
		return -EFAULT;
	if (q.flags != 0 || q.count == 0 || q.count > XENGT_MFN_MAX_PAGES ||
	    !PAGE_ALIGNED(q.addr) ||
	    q.addr + (u64)q.count * PAGE_SIZE < q.addr ||     /* wraps */
	    q.addr + (u64)q.count * PAGE_SIZE > TASK_SIZE_MAX) /* not user space */
		return -EINVAL;
	/* Only a PV dom0's page tables hold machine frames. */
	if (!xen_pv_domain())
		return -EOPNOTSUPP;
	fops = privcmd_fops();
	if (!fops)
		return -ENXIO;

	frames = kvmalloc_array(q.count, sizeof(*frames), GFP_KERNEL);
	if (!frames)
		return -ENOMEM;
	mmap_read_lock(mm);
	for (i = 0; i < q.count && ret == 0; i++)
		ret = machine_frame(mm, fops, q.addr + (unsigned long)i * PAGE_SIZE, &frames[i]);
	mmap_read_unlock(mm);
	if (ret == 0 && copy_to_user(u64_to_user_ptr(q.frames), frames,
				     (size_t)q.count * sizeof(*frames)))
		ret = -EFAULT;
	kvfree(frames);
	return ret;
}

static long xengt_mfn_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	if (cmd != XENGT_MFN_IOC_QUERY)
		return -ENOTTY;
	return query((struct xengt_mfn_query __user *)arg);
}

static const struct file_operations xengt_mfn_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = xengt_mfn_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

/* Root only (mode 0600); a udev rule may hand it to a group. */
static struct miscdevice xengt_mfn_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "xengt-mfn",
	.fops = &xengt_mfn_fops,
	.mode = 0600,
};

module_misc_device(xengt_mfn_dev);

MODULE_DESCRIPTION("Machine frames behind a process's own Xen foreign mappings, for xengtd");
MODULE_LICENSE("GPL");
