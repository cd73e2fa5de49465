"""Database: engine/sessions, tables, and the data functions the API and workers share."""
