"""A new VAPID key pair for Web Push, printed as the settings lines to put in the environment.

Generate it once per deployment and keep it: browsers subscribe with the public key, and their
subscriptions only accept pushes signed with its private key (a new pair means every browser
subscribes again)."""

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.core.management.base import BaseCommand
from py_vapid.utils import b64urlencode


def new_key_pair():
    """(private, public): the raw P-256 scalar and the uncompressed point, base64url."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = b64urlencode(key.private_numbers().private_value.to_bytes(32, "big"))
    public = b64urlencode(key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))
    return private, public


class Command(BaseCommand):
    help = "Print a new VAPID key pair for Web Push as WEBPUSH_VAPID_* settings lines."

    def add_arguments(self, parser):
        parser.add_argument("--subject", default="mailto:ops@example.cm",
                            help="WEBPUSH_VAPID_SUBJECT: where push services can reach you (mailto: or https:)")

    def handle(self, *args, subject, **options):
        private, public = new_key_pair()
        self.stdout.write(f"WEBPUSH_VAPID_PRIVATE_KEY={private}")
        self.stdout.write(f"WEBPUSH_VAPID_PUBLIC_KEY={public}")
        self.stdout.write(f"WEBPUSH_VAPID_SUBJECT={subject}")
