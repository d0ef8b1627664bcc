using System.Text.Json;
using System.Text.Json.Serialization;

namespace AgentPlatform.Contracts.Admin;

/// <summary>
/// A field of a create or PATCH body, which a plain nullable cannot say: absent (leave it as it is),
/// <c>null</c> (clear it), a value, or present but not of its type — kept as such rather than failing the
/// whole body, so that the 400 can name every wrong field at once. An absent field is the default, and
/// is left out when written (<c>JsonIgnoreCondition.WhenWritingDefault</c>).
/// </summary>
[JsonConverter(typeof(PatchConverterFactory))]
public readonly struct Patch<T> : IEquatable<Patch<T>>
{
    private enum State : byte { Absent, Null, Value, Invalid }

    private readonly State _state;
    private readonly T? _value;

    private Patch(State state, T? value) => (_state, _value) = (state, value);

    public static Patch<T> Null => new(State.Null, default);

    public static Patch<T> Invalid => new(State.Invalid, default);

    public static implicit operator Patch<T>(T value) => value is null ? Null : new(State.Value, value);

    /// <summary>Whether the body has the field at all (as a value, null, or something else).</summary>
    public bool IsPresent => _state != State.Absent;

    public bool IsNull => _state == State.Null;

    public bool TryGet(out T value)
    {
        value = _value!;
        return _state == State.Value;
    }

    public bool Equals(Patch<T> other) => _state == other._state && EqualityComparer<T?>.Default.Equals(_value, other._value);

    public override bool Equals(object? obj) => obj is Patch<T> other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_state, _value);

    internal sealed class Converter : JsonConverter<Patch<T>>
    {
        public override bool HandleNull => true;

        public override Patch<T> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType == JsonTokenType.Null)
            {
                return Null;
            }
            // On a copy, so that a value of the wrong type can be skipped whole (the serializer hands a
            // converter its whole value buffered).
            var attempt = reader;
            try
            {
                var value = JsonSerializer.Deserialize<T>(ref attempt, options);
                reader = attempt;
                return value is null ? Invalid : new(State.Value, value);
            }
            catch (JsonException)
            {
                reader.Skip();
                return Invalid;
            }
        }

        public override void Write(Utf8JsonWriter writer, Patch<T> patch, JsonSerializerOptions options)
        {
            if (patch.TryGet(out var value))
            {
                JsonSerializer.Serialize(writer, value, options);
            }
            else
            {
                writer.WriteNullValue();
            }
        }
    }
}

internal sealed class PatchConverterFactory : JsonConverterFactory
{
    public override bool CanConvert(Type typeToConvert) => typeToConvert.IsGenericType && typeToConvert.GetGenericTypeDefinition() == typeof(Patch<>);

    public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options) =>
        (JsonConverter)Activator.CreateInstance(typeof(Patch<>.Converter).MakeGenericType(typeToConvert.GetGenericArguments()))!;
}
