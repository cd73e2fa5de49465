"""The job queue: rows in `jobs` written with the store change, claimed and run by workers."""
