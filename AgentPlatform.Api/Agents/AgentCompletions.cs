using System.Buffers;
using System.Text.Json;
using AgentPlatform.Api.Access;
using AgentPlatform.Contracts.Admin;
using AgentPlatform.Contracts.OpenAI;
using Microsoft.Extensions.AI;

namespace AgentPlatform.Api.Agents;

/// <summary>
/// An agent as a model: <c>"model": "agent:{name}"</c> in <c>/v1/chat/completions</c> runs the agent on the
/// request's messages and answers in the chat completion format, streamed or not — so an OpenAI SDK calls
/// an agent unchanged. The conversation is the messages the client sends, as with any model; the run's id
/// is in the <c>x-agentplatform-agent-run</c> header for <c>GET /v1/agents/runs/{id}</c>.
/// </summary>
public sealed class AgentCompletions(AgentStore agents, AgentRunner runner, TimeProvider timeProvider)
{
    public const string ModelPrefix = "agent:";
    public const string RunHeader = "x-agentplatform-agent-run";

    public static bool IsAgentModel(string model) => model.StartsWith(ModelPrefix, StringComparison.Ordinal);

    public async Task CreateAsync(HttpContext context, ClientIdentity client, ReadOnlyMemory<byte> body, ChatRequestScan scan)
    {
        var (agent, messages, refusal) = await ReadAsync(client, body, scan);
        if (refusal is not null)
        {
            await refusal.ExecuteAsync(context);
            return;
        }
        if (await runner.AdmitAsync(context, client) is not { } admitted)
        {
            return;
        }
        await using var lease = admitted;

        var response = context.Response;
        var id = "chatcmpl-" + context.TraceIdentifier;
        var created = timeProvider.GetUtcNow().ToUnixTimeSeconds();
        if (scan.Stream)
        {
            response.ContentType = "text/event-stream";
            response.Headers.CacheControl = "no-cache";
        }
        var first = true;
        using var chunk = new Utf8JsonWriter(Stream.Null);
        async ValueTask EmitAsync(AgentRunEvent runEvent)
        {
            if (runEvent is { Type: AgentRunEvent.RunStarted, Data: AgentRun started })
            {
                response.Headers[RunHeader] = started.Id;
            }
            else if (scan.Stream && runEvent.Data is TextDelta delta && !context.RequestAborted.IsCancellationRequested)
            {
                WriteChunk(response.BodyWriter, chunk, id, created, scan.Model!, first ? "assistant" : null, delta.Text, finishReason: null);
                first = false;
                await response.BodyWriter.FlushAsync(context.RequestAborted);
            }
        }

        var run = await runner.RunAsync(agent!, messages!, threadId: null, thread: null, client, lease,
            context.TraceIdentifier, EmitAsync, context.RequestAborted);
        await lease.SettleAsync(0, 0);
        if (context.RequestAborted.IsCancellationRequested)
        {
            return;
        }
        // A stopped run answered what it could, cut short: as a model that hit its length.
        var finishReason = run.Status == AgentRunStatuses.Completed ? "stop" : "length";
        if (scan.Stream)
        {
            await EndStreamAsync(response, chunk, id, created, scan, run, finishReason, context.RequestAborted);
        }
        else if (run.Status == AgentRunStatuses.Failed)
        {
            await OpenAIError.WriteAsync(context, StatusCodes.Status502BadGateway, run.Error ?? "The agent run failed.", OpenAIError.Upstream, "agent_run_failed");
        }
        else
        {
            await WriteCompletionAsync(response, id, created, scan.Model!, run, finishReason, context.RequestAborted);
        }
    }

    /// <summary>The agent asked for (one the key may run) and the conversation it is given; or why it is refused.</summary>
    private async Task<(AgentDefinition? Agent, List<ChatMessage>? Messages, OpenAIErrorResult? Refusal)> ReadAsync(ClientIdentity client, ReadOnlyMemory<byte> body, ChatRequestScan scan)
    {
        var name = scan.Model![ModelPrefix.Length..];
        if (await agents.GetAsync(name) is not { } agent || !client.MayRun(agent))
        {
            return (null, null, new(StatusCodes.Status404NotFound,
                $"The model '{scan.Model}' does not exist or you do not have access to it.", OpenAIError.InvalidRequest, "model_not_found", "model"));
        }
        if (Messages(body) is not { } messages)
        {
            return (null, null, OpenAIErrorResult.BadRequest(
                "An agent takes 'messages' of roles system, user and assistant with text content, ending with a user message.", "invalid_messages", "messages"));
        }
        return agent.RefusesInstructionsIn(messages) is { } refusal
            ? (null, null, OpenAIErrorResult.BadRequest(refusal, "client_instructions_not_allowed", "messages"))
            : (agent, messages, null);
    }

    /// <summary>A stream's end: the finish chunk and the usage chunk (if asked for), or the error event of a failed run; then <c>[DONE]</c>.</summary>
    private static async Task EndStreamAsync(
        HttpResponse response, Utf8JsonWriter chunk, string id, long created, ChatRequestScan scan, AgentRun run, string finishReason, CancellationToken cancellationToken)
    {
        if (run.Status == AgentRunStatuses.Failed)
        {
            OpenAIError.WriteEvent(response.BodyWriter, run.Error ?? "The agent run failed.", OpenAIError.Upstream, "agent_run_failed");
        }
        else
        {
            WriteChunk(response.BodyWriter, chunk, id, created, scan.Model!, role: null, content: null, finishReason);
            if (scan.StreamOptions == StreamOptionsKind.IncludeUsage)
            {
                ChatCompletionJson.BeginEvent(response.BodyWriter, chunk);
                ChatCompletionJson.WriteChunkHeader(chunk, id, created, scan.Model);
                ChatCompletionJson.WriteNoChoices(chunk);
                ChatCompletionJson.WriteUsage(chunk, run.Usage.PromptTokens, cachedTokens: 0, run.Usage.CompletionTokens);
                ChatCompletionJson.EndEvent(response.BodyWriter, chunk);
            }
        }
        response.BodyWriter.Write(ChatCompletionJson.Done);
        await response.BodyWriter.FlushAsync(cancellationToken);
    }

    /// <summary>The run's answer as one chat completion.</summary>
    private static async Task WriteCompletionAsync(HttpResponse response, string id, long created, string model, AgentRun run, string finishReason, CancellationToken cancellationToken)
    {
        response.ContentType = "application/json";
        using var json = new Utf8JsonWriter(response.BodyWriter);
        json.WriteStartObject();
        ChatCompletionJson.WriteCompletionHeader(json, id, created, model);
        json.WriteStartArray("choices");
        json.WriteStartObject();
        json.WriteNumber("index", 0);
        json.WriteStartObject("message");
        json.WriteString("role", "assistant");
        json.WriteString("content", run.Output);
        json.WriteEndObject();
        json.WriteString("finish_reason", finishReason);
        json.WriteEndObject();
        json.WriteEndArray();
        ChatCompletionJson.WriteUsage(json, run.Usage.PromptTokens, cachedTokens: 0, run.Usage.CompletionTokens);
        json.WriteEndObject();
        await json.FlushAsync(cancellationToken);
    }

    private static void WriteChunk(IBufferWriter<byte> output, Utf8JsonWriter json, string id, long created, string model, string? role, string? content, string? finishReason)
    {
        ChatCompletionJson.BeginEvent(output, json);
        ChatCompletionJson.WriteChunkHeader(json, id, created, model);
        ChatCompletionJson.WriteChoiceDelta(json, 0, (role, content), static (delta, part) =>
        {
            if (part.role is not null)
            {
                delta.WriteString("role", part.role);
            }
            if (part.content is not null)
            {
                delta.WriteString("content", part.content);
            }
        }, finishReason);
        ChatCompletionJson.EndEvent(output, json);
    }

    /// <summary>The request's messages as the agent takes them, or null when one is not plain text of a known role or the last is not the user's.</summary>
    private static List<ChatMessage>? Messages(ReadOnlyMemory<byte> body)
    {
        using var document = JsonDocument.Parse(body);
        if (!document.RootElement.TryGetProperty("messages", out var items) || items.ValueKind != JsonValueKind.Array)
        {
            return null;
        }
        var messages = new List<ChatMessage>();
        foreach (var item in items.EnumerateArray())
        {
            var role = item.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
            var text = item.TryGetProperty("content", out var content) ? Text(content) : null;
            if (text is null)
            {
                return null;
            }
            messages.Add(role switch
            {
                "user" => new ChatMessage(ChatRole.User, text),
                "assistant" => new ChatMessage(ChatRole.Assistant, text),
                "system" or "developer" => new ChatMessage(ChatRole.System, text),
                _ => null!,
            });
            if (messages[^1] is null)
            {
                return null;
            }
        }
        return messages.Count > 0 && messages[^1].Role == ChatRole.User ? messages : null;
    }

    /// <summary>A message's content as text: a string, or the text parts of an array.</summary>
    private static string? Text(JsonElement content) => content.ValueKind switch
    {
        JsonValueKind.String => content.GetString(),
        JsonValueKind.Array => string.Join("\n", content.EnumerateArray()
            .Where(part => part.TryGetProperty("type", out var type) && type.GetString() == "text" && part.TryGetProperty("text", out _))
            .Select(part => part.GetProperty("text").GetString())),
        _ => null,
    };
}
