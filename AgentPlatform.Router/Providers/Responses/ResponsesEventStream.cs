using System.Text.Json;
using AgentPlatform.Contracts.Http;

namespace AgentPlatform.Router.Providers.Responses;

/// <summary>
/// Reads OpenAI's chat chunk stream and gives the Responses API's events: <c>response.created</c> and
/// <c>response.in_progress</c> first; the text as a message item (<c>output_item.added</c>,
/// <c>content_part.added</c>, <c>output_text.delta</c>... <c>output_item.done</c>), each tool call as a
/// <c>function_call</c> item with its <c>function_call_arguments.delta</c>s; and at <c>[DONE]</c> the whole
/// response with its usage (<c>response.completed</c>, or <c>response.incomplete</c> at the token limit).
/// Every event carries its <c>sequence_number</c>. An error event becomes <c>error</c>.
/// </summary>
internal sealed class ResponsesEventStream(Stream inner) : ChatChunkEventStream(inner)
{
    private readonly ResponseDraft _draft = new();
    private int _sequence;
    private int _outputIndex = -1;
    /// <summary>The item being written: the message (null call) or a function call; none before the first.</summary>
    private (bool Open, ResponseDraft.Call? Call) _item;
    private readonly Dictionary<int, ResponseDraft.Call> _calls = [];

    protected override void WriteError(JsonElement error) =>
        WriteEvent("error", error, static (w, error) =>
        {
            w.WriteString("code", JsonFields.String(error, "code") ?? JsonFields.String(error, "type"));
            w.WriteString("message", JsonFields.String(error, "message") ?? "The provider's stream failed.");
            w.WriteNull("param");
        });

    protected override void Begin(JsonElement chunk)
    {
        _draft.Model = JsonFields.String(chunk, "model") ?? "";
        _draft.CreatedAt = chunk.TryGetProperty("created", out var c) && c.TryGetInt64(out var s) ? s : 0;
        WriteEvent("response.created", _draft, static (w, draft) => { w.WritePropertyName("response"); draft.Write(w, final: false); });
        WriteEvent("response.in_progress", _draft, static (w, draft) => { w.WritePropertyName("response"); draft.Write(w, final: false); });
    }

    protected override void WriteText(string text)
    {
        OpenMessage();
        _draft.Text.Append(text);
        WriteEvent("response.output_text.delta", (this, text), static (w, state) =>
        {
            state.Item1.WriteItemPointer(w, state.Item1._draft.MessageId);
            w.WriteNumber("content_index", 0);
            w.WriteString("delta", state.text);
        });
    }

    protected override void WriteToolCall(int index, string id, string name, string? arguments)
    {
        if (!_calls.TryGetValue(index, out var call))
        {
            CloseItem();
            call = _calls[index] = _draft.AddCall(id, name);
            _item = (true, call);
            _outputIndex++;
            WriteEvent("response.output_item.added", (this, call), static (w, state) =>
            {
                w.WriteNumber("output_index", state.Item1._outputIndex);
                w.WritePropertyName("item");
                ResponseDraft.WriteCall(w, state.call, "in_progress");
            });
        }
        if (arguments is { Length: > 0 })
        {
            call.Arguments.Append(arguments);
            WriteEvent("response.function_call_arguments.delta", (this, call, arguments), static (w, state) =>
            {
                state.Item1.WriteItemPointer(w, state.call.ItemId);
                w.WriteString("delta", state.arguments);
            });
        }
    }

    private void OpenMessage()
    {
        if (_item is { Open: true, Call: null })
        {
            return;
        }
        CloseItem();
        _item = (true, null);
        _outputIndex++;
        WriteEvent("response.output_item.added", this, static (w, self) =>
        {
            w.WriteNumber("output_index", self._outputIndex);
            w.WritePropertyName("item");
            self._draft.WriteMessage(w, "in_progress");
        });
        WriteEvent("response.content_part.added", this, static (w, self) =>
        {
            self.WriteItemPointer(w, self._draft.MessageId);
            w.WriteNumber("content_index", 0);
            w.WritePropertyName("part");
            ResponseDraft.WriteTextPart(w, "");
        });
    }

    private void CloseItem()
    {
        if (!_item.Open)
        {
            return;
        }
        if (_item.Call is { } call)
        {
            WriteEvent("response.function_call_arguments.done", (this, call), static (w, state) =>
            {
                state.Item1.WriteItemPointer(w, state.call.ItemId);
                w.WriteString("arguments", state.call.Arguments.ToString());
            });
            WriteEvent("response.output_item.done", (this, call), static (w, state) =>
            {
                w.WriteNumber("output_index", state.Item1._outputIndex);
                w.WritePropertyName("item");
                ResponseDraft.WriteCall(w, state.call, "completed");
            });
        }
        else
        {
            var text = _draft.Text.ToString();
            WriteEvent("response.output_text.done", (this, text), static (w, state) =>
            {
                state.Item1.WriteItemPointer(w, state.Item1._draft.MessageId);
                w.WriteNumber("content_index", 0);
                w.WriteString("text", state.text);
            });
            WriteEvent("response.content_part.done", (this, text), static (w, state) =>
            {
                state.Item1.WriteItemPointer(w, state.Item1._draft.MessageId);
                w.WriteNumber("content_index", 0);
                w.WritePropertyName("part");
                ResponseDraft.WriteTextPart(w, state.text);
            });
            WriteEvent("response.output_item.done", this, static (w, self) =>
            {
                w.WriteNumber("output_index", self._outputIndex);
                w.WritePropertyName("item");
                self._draft.WriteMessage(w, "completed");
            });
        }
        _item = default;
    }

    protected override void Finish()
    {
        CloseItem();
        (_draft.Usage, _draft.FinishReason) = (Usage, FinishReason);
        WriteEvent(_draft.Status == "incomplete" ? "response.incomplete" : "response.completed", _draft,
            static (w, draft) => { w.WritePropertyName("response"); draft.Write(w); });
    }

    private void WriteItemPointer(Utf8JsonWriter writer, string itemId)
    {
        writer.WriteString("item_id", itemId);
        writer.WriteNumber("output_index", _outputIndex);
    }

    /// <summary><c>event: {type}</c>, then its data: <c>{"type":"{type}","sequence_number":n, …}</c>.</summary>
    private void WriteEvent<TState>(string type, TState state, Action<Utf8JsonWriter, TState> body) =>
        ServerSentEvents.WriteNamed(Output, Writer, type, (Sequence: _sequence++, State: state, Body: body), static (w, e) =>
        {
            w.WriteNumber("sequence_number", e.Sequence);
            e.Body(w, e.State);
        });
}
