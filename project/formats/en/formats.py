"""English formats for the admin: 24-hour times with the zone's abbreviation beside every
date and time ("2 Jun 2026, 14:00 EDT"), so no time on a page is read in the wrong zone."""

DATETIME_FORMAT = "j M Y, H:i T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
TIME_FORMAT = "H:i"
# Dates as the times read them ("2 Jun 2026"), not Django's "June 2, 2026" beside "2 Jun 2026, 14:00".
DATE_FORMAT = "j M Y"
SHORT_DATE_FORMAT = "Y-m-d"
