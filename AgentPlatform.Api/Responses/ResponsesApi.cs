using System.Text.Json;
using System.Text.Json.Nodes;
using AgentPlatform.Api.Access;
using AgentPlatform.Api.Chat;
using AgentPlatform.Api.Pipeline;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Redis;
using AgentPlatform.ServiceDefaults.Http;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Api.Responses;

/// <summary>
/// OpenAI's Responses API, for Codex and the OpenAI Agents SDK: the same key, limits, budget, routing and usage
/// record as a chat completion (the Router says it to every deployment through Chat Completions), with the
/// platform keeping the conversation — a response is stored for its owner unless <c>store</c> is false, read
/// back by <c>GET</c>, deleted by <c>DELETE</c>, and continued by <c>previous_response_id</c>.
/// </summary>
public static class ResponsesApi
{
    /// <summary>The most of a response's answer kept to store it (its stream's events are larger than the response).</summary>
    private const int MaxCapturedBytes = 32 * 1024 * 1024;

    public static IEndpointRouteBuilder MapResponsesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/responses").WithTags("OpenAI").RequireAuthorization(AccessPolicies.Client);
        api.MapPost("", CreateAsync)
            .WithName("CreateResponse")
            .WithSummary("Creates a response (JSON or the Responses API's stream events) through the model pool, stored unless store is false.");
        api.MapGet("/{id}", GetAsync)
            .WithName("GetResponse")
            .WithSummary("A stored response of this key's tenant.");
        api.MapDelete("/{id}", DeleteAsync)
            .WithName("DeleteResponse")
            .WithSummary("Deletes a stored response of this key's tenant.");
        return app;
    }

    private static async Task CreateAsync(HttpContext context, ClientIdentity client, ChatPipeline pipeline, ResponseStore store, IOptions<ApiOptions> options)
    {
        await using var call = pipeline.Start(context, client, ModelApi.Responses);
        if (!await ChatCompletionsApi.ReadWithoutAgentsAsync(call, pipeline))
        {
            return;
        }
        var request = (JsonObject)JsonNode.Parse(call.Body.Span)!;
        var owner = ResponseStore.OwnerOf(client);
        var input = Items(request["input"]);
        var previousId = request["previous_response_id"] is JsonValue previous && previous.GetValueKind() == JsonValueKind.String ? previous.GetValue<string>() : null;
        if (previousId is not null)
        {
            if (await store.GetAsync(owner, previousId) is not { } earlier)
            {
                await new OpenAIErrorResult(StatusCodes.Status404NotFound, $"Previous response with id '{previousId}' not found.",
                    OpenAIError.InvalidRequest, "previous_response_not_found", "previous_response_id").ExecuteAsync(context);
                return;
            }
            // The conversation so far, then this turn: what the deployment is sent, and what this response is stored with.
            input = [.. earlier.Input.Select(item => item?.DeepClone()), .. OutputAsInput(earlier.Response), .. input.Select(item => item?.DeepClone())];
            request["input"] = input.DeepClone();
            request.Remove("previous_response_id");
            var expanded = JsonSerializer.SerializeToUtf8Bytes(request);
            if (expanded.Length > options.Value.MaxRequestBodyBytes)
            {
                await OpenAIErrorResult.BadRequest(
                    $"The conversation with the previous responses is larger than the limit of {options.Value.MaxRequestBodyBytes} bytes; start a new one.",
                    "context_length_exceeded", "previous_response_id").ExecuteAsync(context);
                return;
            }
            call.ReplaceBody(PooledRequestBody.Of(expanded));
        }
        if (request["store"] is not JsonValue storeFlag || storeFlag.GetValueKind() != JsonValueKind.False)
        {
            call.Answer.CaptureUpTo(MaxCapturedBytes);
            call.Answered = answered => StoreAsync(answered, store, owner, input, previousId);
        }
        await pipeline.CompleteAsync(call);
    }

    /// <summary>Keeps a whole, successful response with the input that led to it (waited for, so the next turn finds it).</summary>
    private static async Task StoreAsync(ChatCall call, ResponseStore store, string owner, JsonArray input, string? previousId)
    {
        if (call.Answer is not { Status: StatusCodes.Status200OK, Delivered: true, Broken: false, Capture: { } capture }
            || ResponseOf(capture.WrittenSpan, call.Answer.IsEventStream) is not { } response)
        {
            return;
        }
        response["previous_response_id"] = previousId;
        response["store"] = true;
        try
        {
            await store.SaveAsync(owner, new StoredResponse(response, input));
        }
        catch (Exception exception) when (RedisFailure.IsAnyButCancellation(exception))
        {
            // The answer went out; a response that could not be stored is only not found later.
            Log.ResponseNotStored(call.Context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ResponsesApi)), exception);
        }
    }

    /// <summary>The response object of an answer: the JSON itself, or a stream's last event's (<c>response.completed</c>).</summary>
    private static JsonObject? ResponseOf(ReadOnlySpan<byte> answer, bool isEventStream)
    {
        try
        {
            if (!isEventStream)
            {
                return JsonNode.Parse(answer) as JsonObject;
            }
            foreach (var range in answer.Split((byte)'\n'))
            {
                var line = answer[range];
                if (line.StartsWith("data:"u8) && (line.IndexOf("\"type\":\"response.completed\""u8) >= 0 || line.IndexOf("\"type\":\"response.incomplete\""u8) >= 0))
                {
                    // Taken out of its event, so it can be stored on its own.
                    return JsonNode.Parse(line[5..]) is JsonObject { } completed && completed["response"] is JsonObject response && completed.Remove("response") ? response : null;
                }
            }
        }
        catch (JsonException)
        {
            // Not a response after all: nothing stored.
        }
        return null;
    }

    /// <summary>The input as items: a string is one user message.</summary>
    private static JsonArray Items(JsonNode? input) => input switch
    {
        JsonArray items => (JsonArray)items.DeepClone(),
        JsonValue text => [new JsonObject { ["type"] = "message", ["role"] = "user", ["content"] = text.GetValue<string>() }],
        _ => [],
    };

    /// <summary>A response's output as the input of the next turn: its messages and function calls (reasoning is not carried).</summary>
    private static IEnumerable<JsonNode?> OutputAsInput(JsonObject response) =>
        (response["output"] as JsonArray ?? []).Where(item => item?["type"]?.GetValue<string>() is "message" or "function_call").Select(item => item!.DeepClone());

    private static async Task GetAsync(string id, HttpContext context, ClientIdentity client, ResponseStore store)
    {
        if (await store.GetAsync(ResponseStore.OwnerOf(client), id) is { } stored)
        {
            await TypedResults.Json(stored.Response).ExecuteAsync(context);
            return;
        }
        await NotFound(id).ExecuteAsync(context);
    }

    private static async Task DeleteAsync(string id, HttpContext context, ClientIdentity client, ResponseStore store)
    {
        if (await store.DeleteAsync(ResponseStore.OwnerOf(client), id))
        {
            await TypedResults.Json(new JsonObject { ["id"] = id, ["object"] = "response", ["deleted"] = true }).ExecuteAsync(context);
            return;
        }
        await NotFound(id).ExecuteAsync(context);
    }

    private static OpenAIErrorResult NotFound(string id) =>
        new(StatusCodes.Status404NotFound, $"No response found with id '{id}'.", OpenAIError.InvalidRequest, "response_not_found");
}
