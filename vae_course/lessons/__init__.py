"""One helper module per lesson (figures, explorers, reference versions), plus the widgets they share.

Lesson helpers import the library (`vae_course.vae`) and the placeholder (`vae_course.checks.placeholder`) only.
"""
