import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from .phone import InvalidPhoneNumber, normalize_phone_number


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _normalized(self, phone_number):
        try:
            return normalize_phone_number(phone_number)
        except InvalidPhoneNumber:
            # Unknown formats are looked up as typed so that authentication simply fails.
            return phone_number

    def get_by_natural_key(self, phone_number):
        return self.get(phone_number=self._normalized(phone_number))

    def create_user(self, phone_number, password=None, **extra):
        user = self.model(phone_number=normalize_phone_number(phone_number), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, phone_number, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(phone_number, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    phone_number = models.CharField(max_length=16, unique=True, help_text="E.164, e.g. +237671234567")
    full_name = models.CharField(max_length=150)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "phone_number"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        ordering = ["date_joined"]

    def __str__(self):
        return f"{self.full_name} ({self.phone_number})"

    def clean(self):
        super().clean()
        if self.phone_number:
            try:
                self.phone_number = normalize_phone_number(self.phone_number)
            except InvalidPhoneNumber as exc:
                raise ValidationError({"phone_number": str(exc)}) from exc

    @property
    def is_driver(self):
        return hasattr(self, "driver")
