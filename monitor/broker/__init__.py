"""The broker: RabbitMQ, through which work is handed to ``likeness worker`` processes on this and other
machines where one is configured (``LIKENESS_BROKER_URL``). The Celery application, its queues and the task
settings that make "at least once" safe, and the sending of a task (``app``). Without a broker nothing here is
imported and work stays in the process that asks for it.

Results never travel back through the broker: a task writes them to the database, where whoever asked reads
them. The tasks themselves are run by :mod:`monitor.worker`. It imports only ``enrollment.errors``; the
pipeline and the worker import it.
"""
