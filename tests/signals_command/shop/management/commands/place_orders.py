"""``manage.py place_orders N``: create the shop's tables, then a customer
and N orders, each saved once; ``--fail STATUS`` then fails with that exit
status, as a command that raises ``CommandError`` does."""

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from signals_command.shop.models import Customer, Order


class Command(BaseCommand):
    help = "Create N orders of one customer."

    def add_arguments(self, parser):
        parser.add_argument("count", type=int)
        parser.add_argument("--fail", type=int, metavar="STATUS")

    def handle(self, *args, count, fail, **options):
        if Order._meta.db_table not in connection.introspection.table_names():
            call_command("migrate", run_syncdb=True, verbosity=0)
        customer = Customer.objects.create(name="Ada")
        for total in range(count):
            Order.objects.create(customer=customer, total=total)
        self.stdout.write(f"placed {count} orders")
        if fail is not None:
            raise CommandError("the orders could not be billed", returncode=fail)
