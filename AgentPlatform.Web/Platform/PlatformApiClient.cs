using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace AgentPlatform.Web.Platform;

/// <summary>The Api's health, as its <c>/health</c> endpoint reports it.</summary>
public sealed record PlatformHealth(string Status, IReadOnlyDictionary<string, string> Checks, string? Error);

/// <summary>One piece of a streamed answer: text, or the metadata that arrives with the headers.</summary>
public sealed record ChatUpdate(
    string? Text, string? Deployment = null, string? RequestId = null, string? OverheadMs = null, string? Error = null,
    string? Cache = null, ChatUsage? Usage = null, string? AgentRun = null);

/// <summary>What a reply used, as the stream's last chunk reports it.</summary>
public sealed record ChatUsage(long PromptTokens, long CachedTokens, long CompletionTokens);

/// <summary>One message of a conversation: <c>user</c> or <c>assistant</c>, and what it said.</summary>
public sealed record ChatMessage(string Role, string Content);

/// <summary>The doors a conversation can go through, as the playground offers them.</summary>
public static class Doors
{
    public const string ChatCompletions = "/v1/chat/completions";
    public const string Messages = "/v1/messages";
    public const string Responses = "/v1/responses";

    public static readonly IReadOnlyList<string> All = [ChatCompletions, Messages, Responses];
}

/// <summary>
/// The console's only way to the platform: the Api, found by service discovery under <c>api</c>.
/// Keys are added here, on the server (<see cref="ConsoleClientKey"/>); they never reach the browser.
/// </summary>
public sealed class PlatformApiClient(IHttpClientFactory httpClientFactory, ConsoleClientKey clientKey)
{
    public const string HttpClientName = "api";
    public const string StreamingHttpClientName = "api-streaming";

    public async Task<PlatformHealth> GetHealthAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var response = await httpClientFactory.CreateClient(HttpClientName).GetAsync("/health", cancellationToken);
            using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            var checks = new Dictionary<string, string>();
            if (document.RootElement.TryGetProperty("checks", out var entries))
            {
                foreach (var entry in entries.EnumerateObject())
                {
                    checks[entry.Name] = entry.Value.GetProperty("status").GetString() ?? "Unknown";
                }
            }
            return new PlatformHealth(document.RootElement.GetProperty("status").GetString() ?? "Unknown", checks, null);
        }
        catch (Exception exception) when (exception is HttpRequestException or JsonException or KeyNotFoundException or TaskCanceledException)
        {
            return new PlatformHealth("Unreachable", new Dictionary<string, string>(), "The Api did not answer its health check.");
        }
    }

    /// <summary>The model groups the console's client key may chat with (embeddings groups answer another door).</summary>
    public async Task<IReadOnlyList<string>> ListModelsAsync(CancellationToken cancellationToken)
    {
        using var response = await SendAsClientAsync(HttpClientName, () => new HttpRequestMessage(HttpMethod.Get, "/v1/models"), HttpCompletionOption.ResponseContentRead, cancellationToken);
        await EnsureSuccessAsync(response, cancellationToken);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        return document.RootElement.GetProperty("data").EnumerateArray()
            .Where(m => !m.TryGetProperty("endpoints", out var doors) || doors.EnumerateArray().Any(door => door.ValueEquals("/v1/chat/completions")))
            .Select(m => m.GetProperty("id").GetString()!)
            .ToList();
    }

    /// <summary>The agents the console's client key may run, as the models that run them (<c>agent:{name}</c>).</summary>
    public async Task<IReadOnlyList<string>> ListAgentModelsAsync(CancellationToken cancellationToken)
    {
        using var response = await SendAsClientAsync(HttpClientName, () => new HttpRequestMessage(HttpMethod.Get, "/v1/agents"), HttpCompletionOption.ResponseContentRead, cancellationToken);
        await EnsureSuccessAsync(response, cancellationToken);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        return document.RootElement.GetProperty("data").EnumerateArray().Select(a => "agent:" + a.GetProperty("id").GetString()).ToList();
    }

    /// <summary>
    /// Streams the conversation so far through <paramref name="door"/> (<see cref="Doors"/>), as a client of that
    /// door would: first what the headers say (deployment, request id, overhead, cache), then the text as it
    /// arrives, then the usage the stream reports.
    /// </summary>
    /// <param name="virtualKey">A key the operator gave to call as; null: the console's own client key.</param>
    public async IAsyncEnumerable<ChatUpdate> StreamChatAsync(
        string model, IReadOnlyList<ChatMessage> messages, string? virtualKey, [EnumeratorCancellation] CancellationToken cancellationToken, string door = Doors.ChatCompletions)
    {
        var turns = messages.Select(m => new { role = m.Role, content = m.Content });
        var body = door switch
        {
            Doors.Messages => JsonSerializer.SerializeToUtf8Bytes(new { model, max_tokens = 1024, stream = true, messages = turns }),
            // The console keeps the conversation itself: nothing is stored for it.
            Doors.Responses => JsonSerializer.SerializeToUtf8Bytes(new { model, stream = true, store = false, input = turns }),
            _ => JsonSerializer.SerializeToUtf8Bytes(new { model, stream = true, stream_options = new { include_usage = true }, messages = turns }),
        };
        HttpRequestMessage CreateRequest()
        {
            var request = new HttpRequestMessage(HttpMethod.Post, door) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            return request;
        }
        using var response = string.IsNullOrWhiteSpace(virtualKey)
            ? await SendAsClientAsync(StreamingHttpClientName, CreateRequest, HttpCompletionOption.ResponseHeadersRead, cancellationToken)
            : await SendAsync(StreamingHttpClientName, CreateRequest, virtualKey.Trim(), HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            yield return new ChatUpdate(null, Error: await ErrorMessageAsync(response, cancellationToken));
            yield break;
        }
        yield return new ChatUpdate(null, Header(response, "x-agentplatform-deployment"), Header(response, "x-request-id"), Header(response, "x-agentplatform-overhead-ms"),
            Cache: Header(response, "x-agentplatform-cache"), AgentRun: Header(response, "x-agentplatform-agent-run"));

        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        long input = 0;
        await foreach (var item in SseParser.Create(stream).EnumerateAsync(cancellationToken))
        {
            if (item.Data == "[DONE]")
            {
                yield break;
            }
            using var data = JsonDocument.Parse(item.Data);
            var update = door switch
            {
                Doors.Messages => MessagesUpdate(data.RootElement, ref input),
                Doors.Responses => ResponsesUpdate(data.RootElement),
                _ => ChatUpdateOf(data.RootElement),
            };
            if (update is not null)
            {
                yield return update;
                if (update.Error is not null)
                {
                    yield break;
                }
            }
        }
    }

    /// <summary>A chat completion chunk: its text, its usage, or its error.</summary>
    private static ChatUpdate? ChatUpdateOf(JsonElement chunk)
    {
        if (chunk.TryGetProperty("error", out var error))
        {
            return new ChatUpdate(null, Error: error.TryGetProperty("message", out var message) ? message.GetString() : "The answer broke off.");
        }
        if (chunk.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            var cached = usage.TryGetProperty("prompt_tokens_details", out var details) && details.ValueKind == JsonValueKind.Object
                && details.TryGetProperty("cached_tokens", out var cachedTokens) ? cachedTokens.GetInt64() : 0;
            return new ChatUpdate(null, Usage: new ChatUsage(usage.GetProperty("prompt_tokens").GetInt64(), cached, usage.GetProperty("completion_tokens").GetInt64()));
        }
        var text = chunk.TryGetProperty("choices", out var choices) && choices.GetArrayLength() > 0
            && choices[0].GetProperty("delta").TryGetProperty("content", out var content) ? content.GetString() : null;
        return text is { Length: > 0 } ? new ChatUpdate(text) : null;
    }

    /// <summary>An Anthropic stream event: its text delta, its usage (input from message_start, output from message_delta), or its error.</summary>
    private static ChatUpdate? MessagesUpdate(JsonElement data, ref long input)
    {
        switch (data.GetProperty("type").GetString())
        {
            case "message_start" when data.GetProperty("message").TryGetProperty("usage", out var start):
                input = InputTokens(start, input);
                return null;
            case "content_block_delta" when data.GetProperty("delta") is var delta && delta.TryGetProperty("text", out var text):
                return new ChatUpdate(text.GetString());
            case "message_delta" when data.TryGetProperty("usage", out var usage):
                input = InputTokens(usage, input);
                var cached = usage.TryGetProperty("cache_read_input_tokens", out var read) ? read.GetInt64() : 0;
                return new ChatUpdate(null, Usage: new ChatUsage(input, cached, usage.GetProperty("output_tokens").GetInt64()));
            case "error":
                return new ChatUpdate(null, Error: data.GetProperty("error").GetProperty("message").GetString());
            default:
                return null;
        }

        // Anthropic's input tokens leave out the cache's reads and writes; the console counts all of them, as the records do.
        static long InputTokens(JsonElement usage, long known) => usage.TryGetProperty("input_tokens", out var tokens)
            ? tokens.GetInt64() + (usage.TryGetProperty("cache_read_input_tokens", out var read) ? read.GetInt64() : 0)
                + (usage.TryGetProperty("cache_creation_input_tokens", out var written) ? written.GetInt64() : 0)
            : known;
    }

    /// <summary>A Responses API event: its text delta, the completed response's usage, or its error.</summary>
    private static ChatUpdate? ResponsesUpdate(JsonElement data) => data.GetProperty("type").GetString() switch
    {
        "response.output_text.delta" => new ChatUpdate(data.GetProperty("delta").GetString()),
        "response.completed" or "response.incomplete" when data.GetProperty("response").GetProperty("usage") is { ValueKind: JsonValueKind.Object } usage =>
            new ChatUpdate(null, Usage: new ChatUsage(usage.GetProperty("input_tokens").GetInt64(),
                usage.TryGetProperty("input_tokens_details", out var details) && details.TryGetProperty("cached_tokens", out var cached) ? cached.GetInt64() : 0,
                usage.GetProperty("output_tokens").GetInt64())),
        "error" => new ChatUpdate(null, Error: data.TryGetProperty("message", out var message) ? message.GetString() : "The answer broke off."),
        _ => null,
    };

    /// <summary>
    /// Sends a <c>/v1</c> request with the console's client key; when the Api says the master key is
    /// admin-only now, the console gives itself a virtual key and sends the request once more.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsClientAsync(
        string clientName, Func<HttpRequestMessage> createRequest, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        var key = clientKey.Current;
        var response = await SendAsync(clientName, createRequest, key, completion, cancellationToken);
        if (response.StatusCode != System.Net.HttpStatusCode.Unauthorized
            || !(await response.Content.ReadAsStringAsync(cancellationToken)).Contains("\"master_key_not_a_client_key\"", StringComparison.Ordinal))
        {
            return response;
        }
        response.Dispose();
        await clientKey.ProvisionAsync(key, cancellationToken);
        return await SendAsync(clientName, createRequest, clientKey.Current, completion, cancellationToken);
    }

    private async Task<HttpResponseMessage> SendAsync(
        string clientName, Func<HttpRequestMessage> createRequest, string key, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        using var request = createRequest();
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return await httpClientFactory.CreateClient(clientName).SendAsync(request, completion, cancellationToken);
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException(await ErrorMessageAsync(response, cancellationToken), null, response.StatusCode);
        }
    }

    private static async Task<string> ErrorMessageAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        try
        {
            using var document = JsonDocument.Parse(text);
            // OpenAI's shape and Anthropic's both hold error.message.
            return $"{(int)response.StatusCode}: {document.RootElement.GetProperty("error").GetProperty("message").GetString()}";
        }
        catch (Exception exception) when (exception is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return $"{(int)response.StatusCode}: {Encoding.UTF8.GetByteCount(text)} bytes that are not an error the platform writes.";
        }
    }
}
