/* signet-gtk-progress.h: the steps of an activation or a renewal as they
 * run, one row per step with its state (waiting, running with a spinner,
 * done, failed, not needed), fed by the agent's Progress signal.
 *
 * Owns: following the Progress signals of one request id on the proxy and
 * showing them; the note that a key on a card can take up to 25 seconds.
 * May call: ui-gtk/signet-gtk-rules.h, libsignet/ (generated proxy), GTK.
 */
#pragma once

#include <adwaita.h>

#include "libsignet/signet-dbus-generated.h"

G_BEGIN_DECLS

#define SIGNET_GTK_TYPE_PROGRESS (signet_gtk_progress_get_type())
G_DECLARE_FINAL_TYPE(SignetGtkProgress, signet_gtk_progress, SIGNET_GTK, PROGRESS, GtkBox)

/* Starts following @operation ("activate" or "renew") on @proxy: every step
 * waiting. Returns the request id to pass in the call's options (owned by
 * the widget, valid until the next start). */
const char *signet_gtk_progress_start(SignetGtkProgress *self, SignetAgent1 *proxy,
                                      const char *operation);

/* One step starts (what a Progress signal of our request id does). */
void signet_gtk_progress_step(SignetGtkProgress *self, const char *step, const char *message);

/* The call returned: the running step done (@ok) or failed; steps never
 * announced are "not needed" after success. Stops following the signals. */
void signet_gtk_progress_finish(SignetGtkProgress *self, gboolean ok);

/* Shows the certificate of an Activate or Renew result under the steps
 * (holder, issuer, validity with the days left, serial); NULL hides it. */
void signet_gtk_progress_set_result(SignetGtkProgress *self, GVariant *result);

G_END_DECLS
