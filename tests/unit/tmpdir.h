/*
 * tmpdir.h — the temporary folder of a unit test program: made under $CTG_TEST_TMP (ctest sets
 * it to the build folder) or /tmp, removed with everything in it at the end.
 */
#ifndef CTG_TEST_TMPDIR_H
#define CTG_TEST_TMPDIR_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Makes "<base>/<program>.XXXXXX" into `out`; exits 2 when it cannot. */
static inline void tmpdir_make(char *out, size_t len, const char *program)
{
    const char *base = getenv("CTG_TEST_TMP");
    snprintf(out, len, "%s/%s.XXXXXX", base && *base ? base : "/tmp", program);
    if (!mkdtemp(out)) {
        perror("mkdtemp");
        exit(2);
    }
}

/* Removes `path` and, for a folder, everything below it. */
static inline void tmpdir_remove(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return;
    if (!S_ISDIR(sb.st_mode)) {
        unlink(path);
        return;
    }
    DIR *dir = opendir(path);
    for (struct dirent *e; dir && (e = readdir(dir));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char child[8192];
        if (snprintf(child, sizeof child, "%s/%s", path, e->d_name) < (int)sizeof child)
            tmpdir_remove(child);
    }
    if (dir)
        closedir(dir);
    rmdir(path);
}

#endif
