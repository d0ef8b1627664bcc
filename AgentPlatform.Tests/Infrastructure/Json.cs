using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace AgentPlatform.Tests.Infrastructure;

public static class Json
{
    public static StringContent Body(string json) => new(json, Encoding.UTF8, new MediaTypeHeaderValue("application/json"));

    public static StringContent Chat(string model = "default", bool stream = false, string extra = "") =>
        Body($$"""{"model":"{{model}}","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"Hello there"}]{{extra}}}""");

    /// <summary>An embeddings request of one two-word input, with any <paramref name="extra"/> fields.</summary>
    public static StringContent Embeddings(string model = "embed", string extra = "") =>
        Body($$"""{"model":"{{model}}","input":"Hello there"{{extra}}}""");

    /// <summary>
    /// A request at <paramref name="door"/> (<c>/v1/chat/completions</c> or <c>/v1/embeddings</c>) to the
    /// fixture's group of that kind: <paramref name="chatModel"/>, or its embeddings twin (<c>embed</c>,
    /// <c>priced-embed</c>, <c>slow-embed</c>).
    /// </summary>
    public static StringContent AtDoor(string door, string chatModel = "default", string extra = "") =>
        door == "/v1/embeddings" ? Embeddings(chatModel == "default" ? "embed" : chatModel + "-embed", extra) : Chat(chatModel, extra: extra);

    public static async Task<JsonElement> ReadAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Asserts OpenAI's error shape and returns the error object.</summary>
    public static async Task<JsonElement> ReadErrorAsync(HttpResponseMessage response)
    {
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var root = await ReadAsync(response);
        var error = root.GetProperty("error");
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.False(string.IsNullOrEmpty(error.GetProperty("type").GetString()));
        Assert.True(error.TryGetProperty("param", out _));
        Assert.True(error.TryGetProperty("code", out _));
        return error;
    }

    /// <summary>The data lines of a server-sent event stream, in order.</summary>
    public static async Task<List<string>> ReadEventsAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(e => e.Trim())
            .Where(e => e.StartsWith("data: ", StringComparison.Ordinal))
            .Select(e => e["data: ".Length..])
            .ToList();
    }
}
