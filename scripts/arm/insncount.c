/* A qemu-user TCG plugin (API of qemu 7.2) that counts the guest instructions a program
 * executes, for scripts/bench-arm.sh: the total, the int8 dot-product instructions among them
 * (SDOT/UDOT and SMMLA/UMMLA/USMMLA, matched by encoding because qemu 7.2's disassembler prints
 * them as .byte), and the count per guest function (the symbol of each translated block's first
 * instruction; qemu-user loads the binary's symbols only when logging, hence `-d plugin`).
 *
 * Counting is one callback per executed translated block, adding the block's precomputed counts
 * with atomics (guest threads run on host threads). Argument: out=FILE (required).
 */
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

enum { TOTAL, DOT, MMLA, NCLASS };

/* One guest function's counts; keyed by the symbol's name. */
typedef struct {
    const char *name;
    uint64_t n[NCLASS];
} Func;

/* A translated block: its counts and its function. */
typedef struct {
    uint64_t n[NCLASS];
    Func *func;
} Block;

static GHashTable *funcs; /* name -> Func*, guarded by lock (translation time only) */
static GMutex lock;
static uint64_t totals[NCLASS];
static char *out_path;

static int classify(uint32_t insn)
{
    /* SDOT/UDOT (vector): 0 Q U 01110 10 0 Rm 1001 0 1 Rn Rd */
    if ((insn & 0x9FE0FC00) == 0x0E809400) {
        return DOT;
    }
    /* SDOT/UDOT (by element): 0 Q U 01111 10 L M Rm 1110 H 0 Rn Rd */
    if ((insn & 0x9FC0F400) == 0x0F80E000) {
        return DOT;
    }
    /* SMMLA/UMMLA: 01 U 01110 100 Rm 1010 01 Rn Rd; USMMLA: 0100 1110 100 Rm 1010 11 Rn Rd */
    if ((insn & 0xDFE0FC00) == 0x4E80A400 || (insn & 0xFFE0FC00) == 0x4E80AC00) {
        return MMLA;
    }
    return TOTAL;
}

static void on_exec(unsigned int vcpu, void *udata)
{
    Block *b = udata;
    for (int c = 0; c < NCLASS; c++) {
        if (b->n[c]) {
            __atomic_fetch_add(&totals[c], b->n[c], __ATOMIC_RELAXED);
            __atomic_fetch_add(&b->func->n[c], b->n[c], __ATOMIC_RELAXED);
        }
    }
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    Block *b = g_new0(Block, 1);
    const char *sym = NULL;
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        if (i == 0) {
            sym = qemu_plugin_insn_symbol(insn);
        }
        uint32_t word = 0;
        if (qemu_plugin_insn_size(insn) == 4) {
            memcpy(&word, qemu_plugin_insn_data(insn), 4);
        }
        b->n[TOTAL]++;
        int c = classify(word);
        if (c != TOTAL) {
            b->n[c]++;
        }
    }
    if (!sym) {
        sym = "?";
    }
    g_mutex_lock(&lock);
    Func *f = g_hash_table_lookup(funcs, sym);
    if (!f) {
        f = g_new0(Func, 1);
        f->name = g_strdup(sym);
        g_hash_table_insert(funcs, (gpointer)f->name, f);
    }
    g_mutex_unlock(&lock);
    b->func = f;
    qemu_plugin_register_vcpu_tb_exec_cb(tb, on_exec, QEMU_PLUGIN_CB_NO_REGS, b);
}

static gint by_total(gconstpointer a, gconstpointer b)
{
    const Func *fa = *(Func *const *)a, *fb = *(Func *const *)b;
    return fa->n[TOTAL] < fb->n[TOTAL] ? 1 : fa->n[TOTAL] > fb->n[TOTAL] ? -1 : 0;
}

/* Text report: totals, then every function with its counts, largest first. */
static void at_exit(qemu_plugin_id_t id, void *p)
{
    FILE *f = fopen(out_path, "w");
    if (!f) {
        return;
    }
    fprintf(f, "total %" PRIu64 "\ndot %" PRIu64 "\nmmla %" PRIu64 "\n", totals[TOTAL],
            totals[DOT], totals[MMLA]);
    GPtrArray *all = g_ptr_array_new();
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, funcs);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        g_ptr_array_add(all, value);
    }
    g_ptr_array_sort(all, by_total);
    for (guint i = 0; i < all->len; i++) {
        Func *fn = g_ptr_array_index(all, i);
        fprintf(f, "func %" PRIu64 " %" PRIu64 " %" PRIu64 " %s\n", fn->n[TOTAL], fn->n[DOT],
                fn->n[MMLA], fn->name);
    }
    fclose(f);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (g_str_has_prefix(argv[i], "out=")) {
            out_path = g_strdup(argv[i] + 4);
        }
    }
    if (!out_path) {
        fprintf(stderr, "insncount: out=FILE is required\n");
        return -1;
    }
    funcs = g_hash_table_new(g_str_hash, g_str_equal);
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
