using System.Buffers;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using AgentPlatform.Contracts.OpenAI;
using CommunityToolkit.HighPerformance.Buffers;

namespace AgentPlatform.Api.Caching;

/// <summary>
/// The identity of a chat completion for the response cache: a SHA-256 over the canonical form of
/// everything in the request that can change the answer. Canonical: properties sorted, whitespace
/// dropped, numbers and string escapes written one way, so <c>{"temperature":1.0}</c> and
/// <c>{ "temperature": 1 }</c> are the same request.
/// </summary>
/// <remarks>
/// Every field counts except those listed in <see cref="Ignored"/>, which are known not to change the
/// answer. A field this list does not know (a new OpenAI parameter) therefore keeps requests apart:
/// a needless miss is cheap, a wrong hit is not.
/// </remarks>
public static class CacheKey
{
    /// <summary>Top-level fields that do not change the answer: how it is delivered, and who asked.</summary>
    public static readonly IReadOnlySet<string> Ignored = new HashSet<string>(StringComparer.Ordinal)
    {
        "stream", "stream_options", "user", "metadata", "store", "safety_identifier", "prompt_cache_key",
    };

    /// <summary>
    /// The key of a valid chat completion (or, for <paramref name="api"/>, embeddings, messages or responses) body, as 64
    /// lowercase hex characters. The other doors' keys hash a prefix before the body, so no body valid at two
    /// doors can have one door's answer served at the other.
    /// </summary>
    /// <param name="headers">What else of the request can change the answer (a Messages request's Anthropic headers).</param>
    public static string Compute(ReadOnlyMemory<byte> body, ModelApi api = ModelApi.ChatCompletions, string? headers = null)
    {
        using var document = JsonDocument.Parse(body);
        // On every cached request: the canonical form goes to a rented buffer through this thread's writer.
        using var canonical = new ArrayPoolBufferWriter<byte>(body.Length);
        if (api == ModelApi.Embeddings)
        {
            canonical.Write("embeddings\n"u8);
        }
        else if (api == ModelApi.Responses)
        {
            canonical.Write("responses\n"u8);
        }
        else if (api == ModelApi.Messages)
        {
            canonical.Write("messages\n"u8);
            canonical.Write(System.Text.Encoding.UTF8.GetBytes((headers ?? "") + "\n"));
        }
        var writer = _threadWriter ??= new Utf8JsonWriter(canonical);
        writer.Reset(canonical);
        WriteCanonical(writer, document.RootElement, topLevel: true);
        writer.Flush();
        writer.Reset();
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(canonical.WrittenSpan, hash);
        return Convert.ToHexStringLower(hash);
    }

    [ThreadStatic]
    private static Utf8JsonWriter? _threadWriter;

    private static void WriteCanonical(Utf8JsonWriter writer, JsonElement element, bool topLevel = false)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                // Each name read once: JsonProperty.Name makes a new string at every call, the sort's included.
                var properties = new List<(string Name, JsonElement Value)>();
                foreach (var property in element.EnumerateObject())
                {
                    var name = property.Name;
                    if (!topLevel || !Ignored.Contains(name))
                    {
                        properties.Add((name, property.Value));
                    }
                }
                properties.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
                foreach (var (name, value) in properties)
                {
                    writer.WritePropertyName(name);
                    WriteCanonical(writer, value);
                }
                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray())
                {
                    WriteCanonical(writer, item);
                }
                writer.WriteEndArray();
                break;
            case JsonValueKind.String:
                // A string with no escape is its raw UTF-8 (without its quotes): written as is, not as a new string.
                var raw = JsonMarshal.GetRawUtf8Value(element)[1..^1];
                if (raw.IndexOf((byte)'\\') < 0)
                {
                    writer.WriteStringValue(raw);
                }
                else
                {
                    writer.WriteStringValue(element.GetString());
                }
                break;
            case JsonValueKind.Number:
                WriteNumber(writer, element);
                break;
            default:
                element.WriteTo(writer);
                break;
        }
    }

    /// <summary>Numbers by value: 1, 1.0 and 1e0 are one number.</summary>
    private static void WriteNumber(Utf8JsonWriter writer, JsonElement number)
    {
        if (number.TryGetDecimal(out var value))
        {
            // Dividing by 1.000… drops trailing zeros from a decimal's scale: 1.50m becomes 1.5m.
            writer.WriteNumberValue(value / 1.0000000000000000000000000000m);
        }
        else if (number.TryGetDouble(out var large))
        {
            writer.WriteNumberValue(large);
        }
        else
        {
            number.WriteTo(writer);
        }
    }
}
