"""`lab drill`: on-call training. The fault lands unannounced; a trainee investigates and fixes it with real
tools from another terminal; the debrief compares them with the original incident."""
