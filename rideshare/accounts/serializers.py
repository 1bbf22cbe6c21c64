from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.tokens import RefreshToken

from .models import User
from .phone import InvalidPhoneNumber, normalize_phone_number


class PhoneNumberField(serializers.CharField):
    def to_internal_value(self, data):
        try:
            return normalize_phone_number(super().to_internal_value(data))
        except InvalidPhoneNumber as exc:
            raise serializers.ValidationError(str(exc), code="invalid_phone_number") from exc


# The account; the API answers with drivers.serializers.UserSerializer, which adds the driver
# profile (no docstring: the OpenAPI document would carry it).
class UserSerializer(serializers.ModelSerializer):
    user_id = serializers.UUIDField(source="id", read_only=True)
    is_driver = serializers.BooleanField(read_only=True)

    class Meta:
        model = User
        fields = ["user_id", "phone_number", "full_name", "is_driver", "date_joined"]
        read_only_fields = fields


PHONE_NUMBER_TAKEN = _("This phone number is already registered.")


# A new account; the API registers with drivers.serializers.RegisterSerializer, which takes an
# optional driver profile too.
class RegisterSerializer(serializers.Serializer):
    phone_number = PhoneNumberField(max_length=32)
    password = serializers.CharField(write_only=True, min_length=8, max_length=128, trim_whitespace=False)
    full_name = serializers.CharField(max_length=150)

    def validate_phone_number(self, value):
        if User.objects.filter(phone_number=value).exists():
            raise serializers.ValidationError(PHONE_NUMBER_TAKEN, code="phone_number_taken")
        return value

    def validate(self, attrs):
        candidate = User(phone_number=attrs["phone_number"], full_name=attrs["full_name"])
        try:
            password_validation.validate_password(attrs["password"], candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from exc
        return attrs

    @transaction.atomic
    def create(self, validated_data):
        try:
            with transaction.atomic():
                user = User.objects.create_user(**validated_data)
        except IntegrityError:
            # Registered by a concurrent request after validate_phone_number looked.
            raise serializers.ValidationError(
                {"phone_number": [PHONE_NUMBER_TAKEN]}, code="phone_number_taken"
            ) from None
        return user


class PhoneTokenObtainPairSerializer(TokenObtainPairSerializer):
    """Log in with the phone number in any format the registration accepted."""

    def validate(self, attrs):
        try:
            attrs[self.username_field] = normalize_phone_number(attrs[self.username_field])
        except InvalidPhoneNumber:
            pass  # authentication fails below with the usual message
        return super().validate(attrs)


class TokenPairSerializer(serializers.Serializer):
    """What a login returns (OpenAPI only)."""

    access = serializers.CharField()
    refresh = serializers.CharField()


class SingleUseRefreshToken(RefreshToken):
    """A refresh token that only the request whose blacklisting inserts it may rotate."""

    def blacklist(self):
        # simplejwt checks the blacklist when it reads the token, then blacklists with
        # get_or_create: concurrent requests all pass the check, and each one's get_or_create
        # finds the row another inserted and carries on (8 of 10 rotated one token). The unique
        # blacklist row decides instead: a request that did not create it is refused as a later
        # reuse is (the check now finds the row: simplejwt's TokenError, 401 token_not_valid).
        blacklisted, created = super().blacklist()
        if not created:
            self.check_blacklist()
        return blacklisted, created


class RefreshSerializer(TokenRefreshSerializer):
    """A new access and refresh token; the refresh token sent is blacklisted (used once, even by
    concurrent requests: the others are 401 `token_not_valid`, as a later reuse is)."""

    token_class = SingleUseRefreshToken

    def validate(self, attrs):
        # One transaction: the old token is spent only if its successor is recorded too (and on
        # SQLite, BEGIN IMMEDIATE queues concurrent rotations instead of failing them).
        # simplejwt looks the token's user up unguarded (a 500 for a user deleted since): such a
        # token is refused like any invalid one.
        try:
            with transaction.atomic():
                return super().validate(attrs)
        except (User.DoesNotExist, DjangoValidationError, ValueError):
            raise InvalidToken(_("The token's user does not exist.")) from None
