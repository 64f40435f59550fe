"""Time: reminders, scheduled notices, poll auto-close and nudges (DESIGN.md §2).

The database holds every timed job; APScheduler only wakes the process. Today it runs the
housekeeping; the features that need time (announcements, polls, meetings) bring their jobs here.
"""
