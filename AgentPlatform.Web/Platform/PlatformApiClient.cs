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
    /// Streams a chat completion of the conversation so far: first what the headers say (deployment,
    /// request id, overhead, cache), then the text as it arrives, then the usage the last chunk reports.
    /// </summary>
    /// <param name="virtualKey">A key the operator gave to call as; null: the console's own client key.</param>
    public async IAsyncEnumerable<ChatUpdate> StreamChatAsync(string model, IReadOnlyList<ChatMessage> messages, string? virtualKey, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new
        {
            model,
            stream = true,
            stream_options = new { include_usage = true },
            messages = messages.Select(m => new { role = m.Role, content = m.Content }),
        });
        HttpRequestMessage CreateRequest()
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new ByteArrayContent(body) };
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
        await foreach (var item in SseParser.Create(stream).EnumerateAsync(cancellationToken))
        {
            if (item.Data == "[DONE]")
            {
                yield break;
            }
            using var chunk = JsonDocument.Parse(item.Data);
            if (chunk.RootElement.TryGetProperty("error", out var error))
            {
                yield return new ChatUpdate(null, Error: error.TryGetProperty("message", out var message) ? message.GetString() : "The answer broke off.");
                yield break;
            }
            if (chunk.RootElement.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
            {
                var cached = usage.TryGetProperty("prompt_tokens_details", out var details) && details.ValueKind == JsonValueKind.Object
                    && details.TryGetProperty("cached_tokens", out var cachedTokens) ? cachedTokens.GetInt64() : 0;
                yield return new ChatUpdate(null, Usage: new ChatUsage(usage.GetProperty("prompt_tokens").GetInt64(), cached, usage.GetProperty("completion_tokens").GetInt64()));
            }
            if (!chunk.RootElement.TryGetProperty("choices", out var choices))
            {
                continue;
            }
            foreach (var choice in choices.EnumerateArray())
            {
                if (choice.GetProperty("delta").TryGetProperty("content", out var content) && content.GetString() is { Length: > 0 } text)
                {
                    yield return new ChatUpdate(text);
                }
            }
        }
    }

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
            return $"{(int)response.StatusCode}: {document.RootElement.GetProperty("error").GetProperty("message").GetString()}";
        }
        catch (Exception exception) when (exception is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return $"{(int)response.StatusCode}: {Encoding.UTF8.GetByteCount(text)} bytes that are not an OpenAI error.";
        }
    }
}
