"""Who calls: the directories' input (patients, staff, contractors), as the API and the CSV
import accept it, and the caller's identity as a call sees it."""
