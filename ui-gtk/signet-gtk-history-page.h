/* signet-gtk-history-page.h: the history of one token.
 *
 * Owns: GetHistory for the token, newest first, one row per operation: the
 * time in local time (signet_client_format_time), the operation, its
 * outcome and the message the holder was given.
 * May call: libsignet/, GTK.
 */
#pragma once

#include <adwaita.h>

#include "libsignet/signet-dbus-generated.h"

G_BEGIN_DECLS

#define SIGNET_GTK_TYPE_HISTORY_PAGE (signet_gtk_history_page_get_type())
G_DECLARE_FINAL_TYPE(SignetGtkHistoryPage, signet_gtk_history_page, SIGNET_GTK, HISTORY_PAGE,
                     GtkBox)

void signet_gtk_history_page_load(SignetGtkHistoryPage *self, SignetAgent1 *proxy,
                                  const char *token, const char *label);

/* Shows @entries (GetHistory's answer) as they are, without D-Bus. */
void signet_gtk_history_page_set_entries(SignetGtkHistoryPage *self, GVariant *entries);

/* An operation's and an outcome's name in words (translated, static). */
const char *signet_gtk_history_operation(const char *operation);
const char *signet_gtk_history_outcome(const char *outcome);

G_END_DECLS
