/* signet-p11-context.c: loading PKCS#11 modules through p11-kit. */
#include "config.h"

#include "pkcs11/signet-p11-private.h"

#include <p11-kit/p11-kit.h>
#include <string.h>

static void
slot_access_free(gpointer lock)
{
  g_rw_lock_clear(lock);
  g_free(lock);
}

static GRWLock *
slot_access(SignetP11ModuleEntry *m, CK_SLOT_ID slot)
{
  gint64 key = (gint64)slot;
  GRWLock *lock;

  g_mutex_lock(&m->access_lock);
  lock = g_hash_table_lookup(m->access, &key);
  if (lock == NULL) {
    lock = g_new0(GRWLock, 1);
    g_rw_lock_init(lock);
    g_hash_table_insert(m->access, g_memdup2(&key, sizeof key), lock);
  }
  g_mutex_unlock(&m->access_lock);
  return lock;
}

void
signet_p11_access_begin(SignetP11ModuleEntry *m, CK_SLOT_ID slot, gboolean write)
{
  GRWLock *lock = slot_access(m, slot);

  /* Reads too, one at a time: SoftHSM2 2.6 crashed (a segfault inside
   * libsofthsm2.so) with fifty clients reading one token's objects at once
   * (tests/agent/test-load.sh, about one run in six). @write stays in the
   * API: what a section does is still said where it is. */
  (void)write;
  g_rw_lock_writer_lock(lock);
}

void
signet_p11_access_end(SignetP11ModuleEntry *m, CK_SLOT_ID slot, gboolean write)
{
  GRWLock *lock = slot_access(m, slot);

  (void)write;
  g_rw_lock_writer_unlock(lock);
}

static void
module_entry_free(SignetP11ModuleEntry *m)
{
  if (m == NULL)
    return;
  g_mutex_clear(&m->mech_lock);
  g_clear_pointer(&m->mechanisms, g_hash_table_unref);
  g_mutex_clear(&m->access_lock);
  g_clear_pointer(&m->access, g_hash_table_unref);
  g_mutex_clear(&m->slot_lock);
  g_clear_pointer(&m->slots, g_array_unref);
  g_clear_pointer(&m->slot_infos, g_hash_table_unref);
  g_clear_pointer(&m->hints, g_hash_table_unref);
  g_free(m->name);
  g_free(m->path);
  g_free(m);
}

static SignetP11ModuleEntry *
module_entry_new(CK_FUNCTION_LIST_PTR funcs, const char *fallback_path)
{
  SignetP11ModuleEntry *m = g_new0(SignetP11ModuleEntry, 1);
  char *name = p11_kit_module_get_name(funcs);
  char *path = p11_kit_module_get_filename(funcs);

  g_mutex_init(&m->mech_lock);
  m->mechanisms = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  g_mutex_init(&m->access_lock);
  m->access = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, slot_access_free);
  g_mutex_init(&m->slot_lock);
  m->slot_infos = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
  m->hints = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  m->funcs = funcs;
  m->path = path != NULL ? g_strdup(path) : g_strdup(fallback_path);
  m->name = name != NULL ? g_strdup(name) : g_path_get_basename(m->path ? m->path : "module");
  free(name);
  free(path);
  if (funcs->C_GetInfo(&m->info) != CKR_OK)
    memset(&m->info, 0, sizeof m->info);
  return m;
}

static gboolean
disabled_for_proxy(CK_FUNCTION_LIST_PTR funcs)
{
  char *disable_in = p11_kit_config_option(funcs, "disable-in");
  gboolean disabled = FALSE;

  if (disable_in != NULL) {
    g_auto(GStrv) names = g_strsplit_set(disable_in, ", \t", -1);
    disabled = g_strv_contains((const char *const *)names, "p11-kit-proxy");
    free(disable_in);
  }
  return disabled;
}

SignetP11Context *
signet_p11_context_new(const char *module_path, SignetP11UnblockMethod unblock_override,
                       GError **error)
{
  g_autoptr(SignetP11Context) ctx = g_new0(SignetP11Context, 1);

  ctx->modules = g_ptr_array_new_with_free_func((GDestroyNotify)module_entry_free);
  ctx->unblock_override = unblock_override;

  if (module_path != NULL) {
    CK_FUNCTION_LIST_PTR funcs;
    CK_RV rv;

    if (!g_file_test(module_path, G_FILE_TEST_EXISTS)) {
      g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_MODULE,
                  "The PKCS#11 module \"%s\" does not exist: check the module= line "
                  "of signet.conf",
                  module_path);
      return NULL;
    }
    funcs = p11_kit_module_load(module_path, 0);
    if (funcs == NULL) {
      g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_MODULE,
                  "Could not load the PKCS#11 module \"%s\": %s", module_path,
                  p11_kit_message() ? p11_kit_message() : "unknown error");
      return NULL;
    }
    rv = p11_kit_module_initialize(funcs);
    if (rv != CKR_OK) {
      p11_kit_module_release(funcs);
      g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_MODULE,
                  "The PKCS#11 module \"%s\" failed to start (%s)", module_path,
                  signet_p11_rv_name(rv));
      return NULL;
    }
    g_ptr_array_add(ctx->modules, module_entry_new(funcs, module_path));
    ((SignetP11ModuleEntry *)g_ptr_array_index(ctx->modules, 0))->initialized = TRUE;
    return g_steal_pointer(&ctx);
  }

  /* Every module registered with p11-kit, as its proxy would load them. */
  ctx->p11kit_modules = p11_kit_modules_load_and_initialize(0);
  if (ctx->p11kit_modules == NULL) {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_MODULE,
                "Could not load the PKCS#11 modules registered with p11-kit: %s",
                p11_kit_message() ? p11_kit_message() : "unknown error");
    return NULL;
  }
  for (CK_FUNCTION_LIST_PTR *m = ctx->p11kit_modules; *m != NULL; m++) {
    if (disabled_for_proxy(*m))
      continue;
    g_ptr_array_add(ctx->modules, module_entry_new(*m, NULL));
  }
  if (ctx->modules->len == 0)
    g_debug("no PKCS#11 module is registered with p11-kit");
  return g_steal_pointer(&ctx);
}

void
signet_p11_context_free(SignetP11Context *ctx)
{
  if (ctx == NULL)
    return;
  if (ctx->p11kit_modules != NULL) {
    g_ptr_array_unref(ctx->modules);
    p11_kit_modules_finalize_and_release(ctx->p11kit_modules);
  } else {
    for (guint i = 0; i < ctx->modules->len; i++) {
      SignetP11ModuleEntry *m = g_ptr_array_index(ctx->modules, i);
      CK_FUNCTION_LIST_PTR funcs = m->funcs;

      if (m->initialized)
        p11_kit_module_finalize(funcs);
      g_ptr_array_index(ctx->modules, i) = NULL;
      module_entry_free(m);
      p11_kit_module_release(funcs);
    }
    g_ptr_array_unref(ctx->modules);
  }
  g_free(ctx);
}
