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

    /// <summary>An Anthropic Messages request of one short user turn, with any <paramref name="extra"/> fields.</summary>
    public static StringContent Message(string model = "claude", bool stream = false, int maxTokens = 16, string extra = "") =>
        Body($$"""{"model":"{{model}}","max_tokens":{{maxTokens}},"stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"Hello there"}]{{extra}}}""");

    /// <summary>
    /// A request at <paramref name="door"/> (<c>/v1/chat/completions</c>, <c>/v1/embeddings</c>, <c>/v1/messages</c>
    /// or <c>/v1/responses</c>) to the fixture's group of that kind: <paramref name="chatModel"/> (chat completions and
    /// responses), or its embeddings twin (<c>embed</c>, <c>priced-embed</c>, <c>slow-embed</c>) or Anthropic twin
    /// (<c>claude</c>, <c>priced-claude</c>, <c>slow-claude</c>).
    /// </summary>
    /// <param name="maxTokens">The output asked for (Messages requires it: 16 unless said).</param>
    public static StringContent AtDoor(string door, string chatModel = "default", string extra = "", bool stream = false, int? maxTokens = null) => door switch
    {
        "/v1/embeddings" => Embeddings(Twin(chatModel, "embed"), extra),
        "/v1/messages" => Message(Twin(chatModel, "claude"), stream, maxTokens ?? 16, extra),
        "/v1/responses" => Body($$"""{"model":"{{chatModel}}","stream":{{(stream ? "true" : "false")}},"input":"Hello there"{{(maxTokens is { } max ? $",\"max_output_tokens\":{max}" : "")}}{{extra}}}"""),
        _ => Chat(chatModel, stream, extra: maxTokens is { } max ? extra + $",\"max_tokens\":{max}" : extra),
    };

    private static string Twin(string chatModel, string kind) => chatModel == "default" ? kind : $"{chatModel}-{kind}";

    public static async Task<JsonElement> ReadAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>
    /// Asserts the error shape of the door the request went through — OpenAI's, or Anthropic's
    /// (<c>{"type":"error","error":{...}}</c>) for <c>/v1/messages</c> — and returns the error object.
    /// </summary>
    public static async Task<JsonElement> ReadErrorAsync(HttpResponseMessage response)
    {
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var root = await ReadAsync(response);
        var error = root.GetProperty("error");
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.False(string.IsNullOrEmpty(error.GetProperty("type").GetString()));
        if (response.RequestMessage?.RequestUri?.AbsolutePath.StartsWith("/v1/messages", StringComparison.Ordinal) == true)
        {
            Assert.Equal("error", root.GetProperty("type").GetString());
            return error;
        }
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
