/* delivery/fs_sync.c - see fs_sync.h. */
#include "config.h"

#include "delivery/fs_sync.h"
#include "lib/error.h"

#include <dirent.h>
#include <errno.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* block_device_name - the kernel's name of dev ("vda", "dm-0", "loop1")
 * from sysfs. 0, or -1 when it cannot be found. */
static int block_device_name(dev_t dev, char *name, size_t size)
{
    char path[64], line[256];
    int found = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/uevent", major(dev), minor(dev));
    f = fopen(path, "re");
    if (f == NULL)
        return -1;
    while (found < 0 && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "DEVNAME=", 8) == 0) {
            line[strcspn(line, "\n")] = '\0';
            if (snprintf(name, size, "%s", line + 8) < (int)size && name[0] != '\0')
                found = 0;
        }
    }
    fclose(f);
    return found;
}

/* ext4_journalled - jbd2 lists every journal it runs as "<device>-<inode>"
 * in /proc/fs/jbd2. */
static bool ext4_journalled(dev_t dev)
{
    char name[128];
    size_t len;
    bool found = false;
    DIR *dir;
    struct dirent *de;

    if (block_device_name(dev, name, sizeof(name)) < 0)
        return false;
    len = strlen(name);
    dir = opendir("/proc/fs/jbd2");
    if (dir == NULL)
        return false;
    while (!found && (de = readdir(dir)) != NULL)
        found = strncmp(de->d_name, name, len) == 0 && de->d_name[len] == '-';
    closedir(dir);
    return found;
}

bool fs_sync_journalled(int fd, const char **what_r)
{
    struct statfs sfs;
    struct stat st;
    const char *what = "unknown";
    bool journalled = false;

    if (fstatfs(fd, &sfs) == 0 && fstat(fd, &st) == 0) {
        switch ((unsigned long)sfs.f_type) {
        case XFS_SUPER_MAGIC:
            what = "xfs";
            journalled = true;
            break;
        case BTRFS_SUPER_MAGIC:
            what = "btrfs";
            journalled = true;
            break;
        case EXT4_SUPER_MAGIC: /* also ext2 and ext3 */
            journalled = ext4_journalled(st.st_dev);
            what = journalled ? "ext4 with a journal" : "ext2/3/4 without a journal";
            break;
        default:
            what = "other";
            break;
        }
    }
    if (what_r != NULL)
        *what_r = what;
    return journalled;
}

int fs_sync(int fd, char **error_r)
{
    if (syncfs(fd) < 0) {
        error_set(error_r, "syncfs: %s", strerror(errno));
        return -1;
    }
    return 0;
}
